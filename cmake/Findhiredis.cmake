# hiredis (Debian libhiredis-dev 0.14) ships a CMake file without an imported target; this defines
# hiredis::hiredis. The Redis client of fleet mode (net/, docs/fleet.md).
find_path(hiredis_INCLUDE_DIR hiredis/hiredis.h)
find_library(hiredis_LIBRARY NAMES hiredis)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(hiredis REQUIRED_VARS hiredis_LIBRARY hiredis_INCLUDE_DIR)
if(hiredis_FOUND AND NOT TARGET hiredis::hiredis)
  add_library(hiredis::hiredis UNKNOWN IMPORTED)
  set_target_properties(hiredis::hiredis PROPERTIES IMPORTED_LOCATION ${hiredis_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${hiredis_INCLUDE_DIR})
endif()
mark_as_advanced(hiredis_INCLUDE_DIR hiredis_LIBRARY)
