-- wrk request shape of the post-1k scenario (bench/run.sh gateway): every
-- request is the same POST with a JSON body, Content-Type: application/json
-- and Content-Length (wrk.format adds it for a body). The path comes from
-- wrk's URL (the origin's /bytes/128: it reads the body and answers 128 B).
--
-- The body is read from the file named by BENCH_POST_BODY, which run.sh
-- writes (1 KiB of JSON) and also sends with curl in its preflight, so the
-- checked request and the measured one are the same bytes. run.sh appends
-- its done() hook (the RESULT line) to a copy of this file.
local path = os.getenv("BENCH_POST_BODY")
local f = path and io.open(path, "rb")
if not f then
  error("post.lua: set BENCH_POST_BODY to the body file (got " .. tostring(path) .. ")")
end
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
