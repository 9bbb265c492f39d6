# Example function for the reference bash runtime: handler "function.handler".
# The event arrives as $1; whatever the function prints on stdout is the response.
# Log lines go to stderr (>&2), so that they don't end up in the response.

handler () {
  EVENT_DATA=$1
  echo "request $LAMBDA_RUNTIME_AWS_REQUEST_ID" >&2
  echo "$EVENT_DATA"
}
