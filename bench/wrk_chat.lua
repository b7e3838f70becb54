-- wrk script for bench/run.sh: POSTs the JSON chat request in the file named by $RS_BENCH_BODY.
local path = os.getenv("RS_BENCH_BODY")
local f = assert(io.open(path, "rb"), "cannot open RS_BENCH_BODY=" .. tostring(path))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
