# Sourced by the examples' run.sh scripts (bash). start_gateway BIN CONFIG LOG: starts
# `BIN serve --config CONFIG` in the background with its output in LOG, kills it when the script
# exits, and waits until it listens. Sets `pid` and `port`; exits the script if it does not start.
start_gateway() {
  local bin="$1" config="$2" log="$3"
  "$bin" serve --config "$config" > "$log" 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null || true' EXIT
  port=""
  for _ in $(seq 200); do
    port="$(grep -o -m1 'listening on 127\.0\.0\.1:[0-9]*' "$log" | sed 's/.*://' || true)"
    [[ -n "$port" ]] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.05
  done
  echo "run.sh: the gateway did not start" >&2
  cat "$log" >&2
  exit 1
}
