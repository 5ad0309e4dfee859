# Helpers shared by every module, tool, test, benchmark and fuzz harness.

# Headers are included as <cyxp2p/MODULE/header.hpp> both in the tree and once installed. In the tree,
# build/PRESET/include/cyxp2p/MODULE/ holds one link per header a user may include: the module's public
# headers, detail/ (what they need) and impl/*.hpp (template bodies they include). impl/*.cpp, tests and
# other modules' internals are not reachable through it. cyxp2p_module() makes the links at configure time.
set(CYXP2P_INCLUDE_ROOT ${PROJECT_BINARY_DIR}/include)
# Build trees configured before this layout have include/cyxp2p as one link to the source root: remove the
# link itself (never what it points to) before any directory is made under it.
if(IS_SYMLINK ${CYXP2P_INCLUDE_ROOT}/cyxp2p)
  file(REMOVE ${CYXP2P_INCLUDE_ROOT}/cyxp2p)
endif()
file(MAKE_DIRECTORY ${CYXP2P_INCLUDE_ROOT}/cyxp2p)

if(CYXP2P_SANITIZE)
  add_compile_options(-fsanitize=${CYXP2P_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${CYXP2P_SANITIZE})
endif()

function(cyxp2p_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wnull-dereference
    -Wimplicit-fallthrough $<$<BOOL:${CYXP2P_WERROR}>:-Werror>)
  # GCC 12's optimizer reports false positives inside libstdc++ (std::vector::insert, std::string
  # operator+) at -O2/-O3: GCC bugs 105329, 105651, 106199. They stay visible as warnings, not errors.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-error=array-bounds -Wno-error=restrict
      -Wno-error=stringop-overflow -Wno-error=stringop-overread)
  endif()
endfunction()

# Targets that compile Boost.Asio. GCC 12 reports two false positives inside Boost 1.74's headers:
# -Wnull-dereference in the scheduler (an inlined thread_info access Asio guards elsewhere) with
# optimization, and -Wmismatched-new-delete on awaitable coroutine frames (Asio pairs its own frame
# operator new and delete; GCC does not see through the coroutine allocation). Both stay on in every
# module below net/.
function(cyxp2p_asio_warnings target)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-null-dereference -Wno-mismatched-new-delete)
  endif()
endfunction()

# cyxp2p_module(NAME SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
#   One folder = one module = one static library cyxp2p::NAME = namespace cyxp2p::NAME. Its headers (top
#   level, detail/, impl/*.hpp) are linked into the include root and installed; the top-level ones are the
#   public API, all included by the umbrella NAME/NAME.hpp and each compiled alone by `header_check`.
function(cyxp2p_module name)
  cmake_parse_arguments(M "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(cyxp2p_${name} STATIC ${M_SOURCES})
  add_library(cyxp2p::${name} ALIAS cyxp2p_${name})
  set_target_properties(cyxp2p_${name} PROPERTIES EXPORT_NAME ${name} POSITION_INDEPENDENT_CODE ON)
  target_include_directories(cyxp2p_${name} PUBLIC
    $<BUILD_INTERFACE:${CYXP2P_INCLUDE_ROOT}> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(cyxp2p_${name} PUBLIC cxx_std_20)
  target_link_libraries(cyxp2p_${name} PUBLIC ${M_PUBLIC_DEPS} PRIVATE ${M_PRIVATE_DEPS})
  cyxp2p_warnings(cyxp2p_${name})
  install(TARGETS cyxp2p_${name} EXPORT cyxp2pTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

  set(src ${CMAKE_CURRENT_SOURCE_DIR})
  file(GLOB public CONFIGURE_DEPENDS RELATIVE ${src} ${src}/*.hpp)
  file(GLOB private CONFIGURE_DEPENDS RELATIVE ${src} ${src}/detail/*.hpp ${src}/impl/*.hpp)
  # Fresh links on every configure, so a removed or moved header is not left includable.
  set(root ${CYXP2P_INCLUDE_ROOT}/cyxp2p/${name})
  file(REMOVE_RECURSE ${root})
  foreach(h IN LISTS public private)
    get_filename_component(dir ${h} DIRECTORY)
    file(MAKE_DIRECTORY ${root}/${dir})
    file(CREATE_LINK ${src}/${h} ${root}/${h} SYMBOLIC)
    install(FILES ${src}/${h} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/cyxp2p/${name}/${dir})
  endforeach()

  # The umbrella header includes every public header (tests/NAME/umbrella_test.cpp includes only it).
  set(umbrella ${src}/${name}.hpp)
  if(NOT EXISTS ${umbrella})
    message(FATAL_ERROR "${name}/: no umbrella header ${name}/${name}.hpp")
  endif()
  file(READ ${umbrella} umbrella_text)
  foreach(h IN LISTS public)
    if(NOT h STREQUAL "${name}.hpp" AND NOT umbrella_text MATCHES "#include <cyxp2p/${name}/${h}>")
      message(FATAL_ERROR "${name}/${name}.hpp does not include <cyxp2p/${name}/${h}>")
    endif()
  endforeach()

  # Header check (target header_check, not part of `all`): one generated translation unit per public and
  # detail/ header, each including its header twice (the include guard works) and nothing else, with
  # the module's own warnings. impl/*.hpp are template bodies read only through their public header.
  set(tus)
  foreach(h IN LISTS public private)
    if(h MATCHES "^impl/")
      continue()
    endif()
    string(MAKE_C_IDENTIFIER ${h} id)
    set(tu ${CMAKE_CURRENT_BINARY_DIR}/header_check/${id}.cpp)
    set(text "#include <cyxp2p/${name}/${h}>\n#include <cyxp2p/${name}/${h}>\n")
    if(EXISTS ${tu})
      file(READ ${tu} old)
    else()
      set(old "")
    endif()
    if(NOT old STREQUAL text)
      file(WRITE ${tu} ${text})
    endif()
    list(APPEND tus ${tu})
  endforeach()
  add_library(cyxp2p_${name}_header_check OBJECT ${tus})
  set_target_properties(cyxp2p_${name}_header_check PROPERTIES EXCLUDE_FROM_ALL ON)
  target_link_libraries(cyxp2p_${name}_header_check PRIVATE cyxp2p_${name})
  cyxp2p_warnings(cyxp2p_${name}_header_check)
  if(NOT TARGET header_check)
    add_custom_target(header_check)
  endif()
  add_dependencies(header_check cyxp2p_${name}_header_check)
endfunction()

# cyxp2p_test(NAME SOURCES ... DEPS ...): one GoogleTest executable, each TEST a ctest test.
function(cyxp2p_test name)
  cmake_parse_arguments(T "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} cyxp2p_test_support GTest::gtest GTest::gmock GTest::gtest_main)
  cyxp2p_warnings(${name})
  set(props TIMEOUT 300)
  # One label per test executable: gtest_discover_tests flattens the property list, so a second label
  # would be read as a property name.
  if(T_LABELS)
    list(LENGTH T_LABELS n)
    if(n GREATER 1)
      message(FATAL_ERROR "cyxp2p_test(${name}): give one label, not ${T_LABELS}")
    endif()
    list(APPEND props LABELS "${T_LABELS}")
    # The tsan stage builds only these (target threads_tests, defined once every test is known).
    if(T_LABELS STREQUAL "threads")
      set_property(GLOBAL APPEND PROPERTY CYXP2P_THREADS_TESTS ${name})
    endif()
  endif()
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60 PROPERTIES ${props})
endfunction()
