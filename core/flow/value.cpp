#include "flow/flow.hpp"

namespace ferry::core::flow {

Value::Value() = default;
Value::~Value() = default;
Value::Value(Value&&) noexcept = default;
Value& Value::operator=(Value&&) noexcept = default;

}  // namespace ferry::core::flow
