// Umbrella header of the content module: everything cyxp2p::content offers.
#pragma once

#include <cyxp2p/content/blockstore.hpp>
#include <cyxp2p/content/bytes.hpp>
#include <cyxp2p/content/car.hpp>
#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/dag_pb.hpp>
#include <cyxp2p/content/dag_source.hpp>
#include <cyxp2p/content/dag_verifier.hpp>
#include <cyxp2p/content/dag_walker.hpp>
#include <cyxp2p/content/download.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/file_writer.hpp>
#include <cyxp2p/content/gateway_request.hpp>
#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/content/leaf.hpp>
#include <cyxp2p/content/limits.hpp>
#include <cyxp2p/content/multi_download.hpp>
#include <cyxp2p/content/multibase.hpp>
#include <cyxp2p/content/unixfs.hpp>
#include <cyxp2p/content/upload.hpp>
#include <cyxp2p/content/varint.hpp>
