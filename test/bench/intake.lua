-- SPDX-License-Identifier: MIT
-- wrk script for test/bench/intake.sh: POSTs pre-signed ClickUp deliveries
-- (lines "<signature>\t<body>" written by intake_gen.py) to /webhooks/clickup, in
-- order, each wrk thread its own slice (line n goes to thread n % THREADS).
--   wrk ... -s intake.lua URL -- FILE THREADS
-- The requests are formatted in init(), before the clock starts. A thread that
-- runs out of lines starts again at its first one (those answers are 200
-- "duplicate", not new rows); done() reports it so the caller can tell.

local threads = {}
local next_id = 0

function setup(thread)
	thread:set("tid", next_id)
	next_id = next_id + 1
	table.insert(threads, thread)
end

function init(args)
	local path, nthreads = args[1], tonumber(args[2])
	local f = assert(io.open(path, "rb"))
	reqs = {}
	local n = 0
	for line in f:lines() do
		if n % nthreads == tid then
			local tab = line:find("\t", 1, true)
			reqs[#reqs + 1] = wrk.format("POST", "/webhooks/clickup",
				{ ["Content-Type"] = "application/json",
				  ["X-Signature"] = line:sub(1, tab - 1) },
				line:sub(tab + 1))
		end
		n = n + 1
	end
	f:close()
	assert(#reqs > 0, "no requests for thread " .. tid)
	i = 0
	wrapped = 0
end

function request()
	i = i + 1
	if i > #reqs then
		i = 1
		wrapped = wrapped + 1
	end
	return reqs[i]
end

function done(summary, latency, requests)
	local w = 0
	for _, t in ipairs(threads) do
		w = w + (t:get("wrapped") or 0)
	end
	io.write(string.format("bodies_wrapped %d\n", w))
end
