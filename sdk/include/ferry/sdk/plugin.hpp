#pragma once

// The one entry point of a plugin library.
//
//   std::unique_ptr<ferry::sdk::Connector> createMyConnector() { ... }
//   FERRY_PLUGIN(createMyConnector)
//
// FERRY_PLUGIN exports two symbols: `ferry_sdk_abi_version`, a constant the loader reads
// before anything else, and the factory alias `ferry_create_connector`. A library whose ABI
// version differs from the host's is refused without its factory being called.

#include <boost/dll/alias.hpp>
#include <cstdint>
#include <memory>

#include "ferry/sdk/connector.hpp"

// Bumped whenever a type crossing the plugin boundary changes layout or meaning.
#define FERRY_SDK_ABI_VERSION 3u

namespace ferry::sdk {

inline constexpr std::uint32_t kAbiVersion = FERRY_SDK_ABI_VERSION;
using ConnectorFactory = std::unique_ptr<Connector>();

}  // namespace ferry::sdk

#define FERRY_PLUGIN(factory)                                                       \
  extern "C" BOOST_SYMBOL_EXPORT const std::uint32_t ferry_sdk_abi_version =        \
      FERRY_SDK_ABI_VERSION;                                                        \
  BOOST_DLL_ALIAS(factory, ferry_create_connector)
