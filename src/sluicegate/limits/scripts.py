"""The Lua scripts that make Redis limit checks and charges atomic (one round trip each).

Keys per scope: `:r` (sorted set of admitted requests, score = time), `:t` (sorted set of
token entries "tokens:unique", score = time) and `:tsum` (running token sum of `:t`, so a check
never sums the whole window). The last key is the period's budget spend (a float string).
Times come from Redis `TIME`; floats go back as strings because Lua numbers become integers.
"""

ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local member = ARGV[4 + 2 * n]
local cutoff = now - window
local first = nil
for i = 1, n do
  local rk, tk, sk = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  redis.call('ZREMRANGEBYSCORE', rk, '-inf', cutoff)
  local expired = redis.call('ZRANGEBYSCORE', tk, '-inf', cutoff)
  if #expired > 0 then
    local drop = 0
    for _, m in ipairs(expired) do drop = drop + tonumber(string.match(m, '^(%d+)')) end
    redis.call('DECRBY', sk, drop)
    redis.call('ZREMRANGEBYSCORE', tk, '-inf', cutoff)
  end
  local count = redis.call('ZCARD', rk)
  local used = tonumber(redis.call('GET', sk) or '0')
  local rreset, treset = 0, 0
  local ro = redis.call('ZRANGE', rk, 0, 0, 'WITHSCORES')
  if ro[2] then rreset = tonumber(ro[2]) + window - now end
  local tro = redis.call('ZRANGE', tk, 0, 0, 'WITHSCORES')
  if tro[2] then treset = tonumber(tro[2]) + window - now end
  local rlimit = tonumber(ARGV[4 + 2 * (i - 1)])
  local tlimit = tonumber(ARGV[5 + 2 * (i - 1)])
  if rlimit >= 0 and count >= rlimit then
    return {0, 'rpm', i, count, used, tostring(rreset), tostring(treset), '0'}
  end
  if tlimit >= 0 and used >= tlimit then
    return {0, 'tpm', i, count, used, tostring(rreset), tostring(treset), '0'}
  end
  if not first then first = {count, used, rreset, treset} end
end
first = first or {0, 0, 0, 0}
local spent = tonumber(redis.call('GET', KEYS[3 * n + 1]) or '0')
if budget >= 0 and spent >= budget then
  return {0, 'budget', 0, first[1], first[2], tostring(first[3]), tostring(first[4]),
          tostring(spent)}
end
for i = 1, n do
  if tonumber(ARGV[4 + 2 * (i - 1)]) >= 0 then
    redis.call('ZADD', KEYS[3 * i - 2], now, member)
    redis.call('PEXPIRE', KEYS[3 * i - 2], math.ceil(window * 1000) + 1000)
  end
end
local rreset = first[3]
if rreset == 0 then rreset = window end
return {1, '', 1, first[1] + 1, first[2], tostring(rreset), tostring(first[4]), tostring(spent)}
"""

CHARGE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = tonumber(ARGV[1])
local tokens = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local member = ARGV[5]
local window = tonumber(ARGV[6])
for i = 1, n do
  local tk, sk = KEYS[2 * i - 1], KEYS[2 * i]
  redis.call('ZADD', tk, now, tokens .. ':' .. member)
  redis.call('INCRBY', sk, tokens)
  redis.call('PEXPIRE', tk, math.ceil(window * 1000) + 1000)
  redis.call('PEXPIRE', sk, math.ceil(window * 1000) + 1000)
end
if cost > 0 then
  local bk = KEYS[2 * n + 1]
  redis.call('INCRBYFLOAT', bk, ARGV[3])
  redis.call('EXPIRE', bk, ttl)
end
return 1
"""
