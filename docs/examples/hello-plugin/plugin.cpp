// The library's one entry point: exports the SDK ABI version and the factory.
#include "ferry/sdk/plugin.hpp"
#include "hello.hpp"

FERRY_PLUGIN(hello::makeConnector)
