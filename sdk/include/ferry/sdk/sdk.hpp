#pragma once

// Everything a plugin needs, in one include.
#include "ferry/sdk/connector.hpp"
#include "ferry/sdk/context.hpp"
#include "ferry/sdk/errors.hpp"
#include "ferry/sdk/http.hpp"
#include "ferry/sdk/json.hpp"
#include "ferry/sdk/schema.hpp"
#include "ferry/sdk/spec.hpp"
#include "ferry/sdk/validate.hpp"
