-- wrk script: a fixed form POST whose body comes from the BENCH_BODY environment
-- variable:  BENCH_BODY='grant_type=...' wrk -s bench/post.lua URL
-- Everything is set once at load time (no `request`/`response` function), so wrk
-- builds the request once and the script costs nothing per request.
local body = os.getenv("BENCH_BODY")
if body == nil or body == "" then
  error("post.lua: set BENCH_BODY to the form body")
end

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
