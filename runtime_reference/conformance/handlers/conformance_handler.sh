# Conformance handler for shell runtimes: the event's "action" chooses what it does.
#
# Sourced by the bootstrap under test, which calls `handler "$EVENT"` and posts what it prints.
# The suite sends compact JSON with "action" first, e.g. {"action":"echo","value":...}, so sed
# is enough to read it (no jq). Context comes from the env vars the bootstrap exports:
# LAMBDA_RUNTIME_AWS_REQUEST_ID, LAMBDA_RUNTIME_DEADLINE_MS, LAMBDA_RUNTIME_INVOKED_FUNCTION_ARN,
# LAMBDA_RUNTIME_CLIENT_CONTEXT, LAMBDA_RUNTIME_COGNITO_IDENTITY and _X_AMZN_TRACE_ID.

# Print $1 as a JSON string (null when the variable named $2 is unset).
conformance_json_string() {
  if [ -n "${2:-}" ] && [ -z "${!2+set}" ]; then
    printf 'null'
    return
  fi
  printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | tr -d '\n\r')"
}

# The string value of a top-level "key" in the event (simple values only).
conformance_get() {
  printf '%s' "$1" | sed -n "s/.*\"$2\":\"\\{0,1\\}\\([^\",}]*\\)\"\\{0,1\\}[,}].*/\\1/p"
}

conformance_now_ms() {
  date +%s%3N
}

# Milliseconds left before the deadline, or null when the bootstrap exported no deadline.
conformance_remaining() {
  case "${LAMBDA_RUNTIME_DEADLINE_MS:-}" in
    '' | *[!0-9]*) printf 'null' ;;
    *) printf '%s' "$((LAMBDA_RUNTIME_DEADLINE_MS - $(conformance_now_ms)))" ;;
  esac
}

conformance_context() {
  printf '{"request_id":%s,' "$(conformance_json_string "${LAMBDA_RUNTIME_AWS_REQUEST_ID-}" LAMBDA_RUNTIME_AWS_REQUEST_ID)"
  printf '"deadline_ms":%s,' "$(conformance_json_string "${LAMBDA_RUNTIME_DEADLINE_MS-}" LAMBDA_RUNTIME_DEADLINE_MS)"
  printf '"invoked_function_arn":%s,' "$(conformance_json_string "${LAMBDA_RUNTIME_INVOKED_FUNCTION_ARN-}" LAMBDA_RUNTIME_INVOKED_FUNCTION_ARN)"
  printf '"client_context":%s,' "$(conformance_json_string "${LAMBDA_RUNTIME_CLIENT_CONTEXT-}" LAMBDA_RUNTIME_CLIENT_CONTEXT)"
  printf '"cognito_identity":%s,' "$(conformance_json_string "${LAMBDA_RUNTIME_COGNITO_IDENTITY-}" LAMBDA_RUNTIME_COGNITO_IDENTITY)"
  printf '"trace_id":%s,' "$(conformance_json_string "${_X_AMZN_TRACE_ID-}" _X_AMZN_TRACE_ID)"
  printf '"remaining_ms":%s,"pid":%s}' "$(conformance_remaining)" "$$"
}

conformance_env() {
  local name
  name=$(conformance_get "$1" name)
  case "$name" in
    '' | [0-9]* | *[!A-Za-z0-9_]*) printf 'null' ;;
    *) conformance_json_string "${!name-}" "$name" ;;
  esac
}

conformance_big() {
  local size
  size=$(conformance_get "$1" size)
  printf '"'
  head -c "$((size - 2))" /dev/zero | tr '\0' x
  printf '"'
}

conformance_raise() {
  local message
  message=$(conformance_get "$1" message)
  printf '%s\n' "${message:-conformance error}" >&2
  printf '%s' "${message:-conformance error}"
  return 1
}

handler() {
  local event="$1" value before
  case "$(printf '%s' "$event" | sed -n 's/^{"action":"\([a-z_]*\)".*/\1/p')" in
    echo)
      value=$(printf '%s' "$event" | sed -n 's/^{"action":"echo","value":\(.*\)}$/\1/p')
      printf '%s' "$value"
      ;;
    context) conformance_context ;;
    raise) conformance_raise "$event" ;;
    env) conformance_env "$event" ;;
    remaining)
      before=$(conformance_remaining)
      sleep "0.$(printf '%03d' "$(conformance_get "$event" sleep_ms)")"
      printf '{"before":%s,"after":%s}' "$before" "$(conformance_remaining)"
      ;;
    pid) printf '%s' "$$" ;;
    big) conformance_big "$event" ;;
    *) printf '{"unknown_action":true}' ;;
  esac
}
