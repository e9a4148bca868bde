package redisstore

import "github.com/redis/go-redis/v9"

// Every change that touches more than one key runs as one Lua script, so no
// other client ever sees half of it and a crash of the calling process
// leaves either all of it or none of it (RD-07). Every key a script touches
// carries the subject's hash tag, so the script stays within one Cluster
// slot; the revocation stream is added as the last key only when the client
// is not a Cluster client (see Store.atomicFeed).
//
// Time comes from the caller (ARGV "now", milliseconds since the epoch, from
// Options.Now): expiry is decided by the store's clock, never by Redis's.
// Key TTLs are only a garbage-collection bound, set an hour past the
// session's deadline.

// prelude is shared by every script.
//
// Session hash fields: sub iss ten sc ro md (the session's data; sc, ro and
// md JSON), c (created), ls (last seen), ax (absolute deadline), ix (idle
// timeout, 0: none), all in ms; th (hex SHA-256 of the opaque token), tk
// (the token index key), uk (the subject index key).
const prelude = `
local FIELDS = {'sub','iss','ten','sc','ro','md','c','ls','ax','ix','th','tk','uk'}
local function deadline(ax, ls, ix)
  local d = tonumber(ax)
  local i = tonumber(ix)
  if i ~= nil and i > 0 then
    local idl = tonumber(ls) + i
    if idl < d then d = idl end
  end
  return d
end
local function drop(k, tk, uk, sid)
  redis.call('DEL', k)
  if tk then redis.call('DEL', tk) end
  if uk then redis.call('ZREM', uk, sid) end
end
local function extend(k, ttl)
  if redis.call('PTTL', k) < ttl then redis.call('PEXPIRE', k, ttl) end
end
local function publish(stream, maxlen, sid, sub, iss, at)
  if stream then
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'v', '1', 'sid', sid, 'sub', sub, 'iss', iss, 'at', at)
  end
end
`

// createScript opens a session, enforcing the cap of the subject's live
// sessions (SS-18): evict the oldest or refuse.
//
// KEYS: session, token index, subject index, [stream].
// ARGV: now, sid, session key prefix, cap, evict (1: evict, 0: refuse, 2:
// evict only sessions published already, listed after th; name others as
// {2, sid, sub, iss, ...}), grace, maxlen, sub, iss, ten, sc, ro, md, ax,
// ix, th, [published sid...].
// Returns {1, evicted sid, sub, iss, ...}, {0} (refused) or {-1} (sid taken).
var createScript = redis.NewScript(prelude + `
local now = tonumber(ARGV[1])
local uk = KEYS[3]
local stream = KEYS[4]
local cap = tonumber(ARGV[4])
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end
local members
if cap > 0 then
  members = redis.call('ZRANGE', uk, 0, -1)
else
  members = redis.call('ZRANGE', uk, 0, 7)
end
local live = {}
for _, sid in ipairs(members) do
  local k = ARGV[3] .. sid
  local f = redis.call('HMGET', k, 'sub', 'iss', 'c', 'ls', 'ax', 'ix', 'tk')
  if not f[1] then
    redis.call('ZREM', uk, sid)
  elseif now >= deadline(f[5], f[4], f[6]) then
    drop(k, f[7], uk, sid)
  else
    live[#live + 1] = {sid, k, f}
  end
end
local out = {1}
if cap > 0 and #live >= cap then
  if ARGV[5] == '2' then
    -- Cluster: evict only sessions the caller has already published
    -- (ARGV[17...]); else name the ones to publish first, and change nothing.
    local published = {}
    for i = 17, #ARGV do published[ARGV[i]] = true end
    local want = {2}
    for i = 1, #live - cap + 1 do
      local e = live[i]
      if not published[e[1]] then
        want[#want + 1] = e[1]
        want[#want + 1] = e[3][1]
        want[#want + 1] = e[3][2]
      end
    end
    if #want > 1 then return want end
  elseif ARGV[5] ~= '1' then
    return {0}
  end
  for i = 1, #live - cap + 1 do
    local e = live[i]
    drop(e[2], e[3][7], uk, e[1])
    publish(stream, ARGV[7], e[1], e[3][1], e[3][2], ARGV[1])
    out[#out + 1] = e[1]
    out[#out + 1] = e[3][1]
    out[#out + 1] = e[3][2]
  end
end
redis.call('HSET', KEYS[1], 'sub', ARGV[8], 'iss', ARGV[9], 'ten', ARGV[10], 'sc', ARGV[11], 'ro', ARGV[12],
  'md', ARGV[13], 'c', ARGV[1], 'ls', ARGV[1], 'ax', ARGV[14], 'ix', ARGV[15], 'th', ARGV[16], 'tk', KEYS[2], 'uk', uk)
local ttl = deadline(ARGV[14], ARGV[1], ARGV[15]) - now + tonumber(ARGV[6])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[2], ARGV[2], 'PX', ttl)
redis.call('ZADD', uk, ARGV[1], ARGV[2])
extend(uk, ttl)
return out
`)

// getScript returns a live session's fields (FIELDS order), or nil; an
// expired session is removed on the way.
//
// KEYS: session. ARGV: now, sid.
var getScript = redis.NewScript(prelude + `
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], unpack(FIELDS))
if not f[1] then return false end
if now >= deadline(f[9], f[8], f[10]) then
  drop(KEYS[1], f[12], f[13], ARGV[2])
  return false
end
return f
`)

// touchBody records activity on the session at key k (throttled) and
// returns its fields, or false when it is not live.
const touchBody = `
local function touch(k, sid, now, ti, grace)
  local f = redis.call('HMGET', k, unpack(FIELDS))
  if not f[1] then return false end
  local dl = deadline(f[9], f[8], f[10])
  if now >= dl then
    drop(k, f[12], f[13], sid)
    return false
  end
  if now - tonumber(f[8]) >= ti then
    f[8] = string.format('%d', now)
    redis.call('HSET', k, 'ls', f[8])
    local ttl = deadline(f[9], f[8], f[10]) - now + grace
    redis.call('PEXPIRE', k, ttl)
    redis.call('PEXPIRE', f[12], ttl)
    extend(f[13], ttl)
  end
  return f
end
`

// touchScript: Touch and Check.
//
// KEYS: session. ARGV: now, sid, touch interval, grace.
// Returns 1 (live) or nil.
var touchScript = redis.NewScript(prelude + touchBody + `
local f = touch(KEYS[1], ARGV[2], tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4]))
if not f then return false end
return 1
`)

// opaqueScript finds a session by the hash of its token, touches it and
// returns {sid, fields...}, or nil.
//
// KEYS: token index. ARGV: now, session key prefix, touch interval, grace.
var opaqueScript = redis.NewScript(prelude + touchBody + `
local sid = redis.call('GET', KEYS[1])
if not sid then return false end
local f = touch(ARGV[2] .. sid, sid, tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4]))
if not f then return false end
table.insert(f, 1, sid)
return f
`)

// revokeScript ends one session and, when the stream key is given,
// publishes the revocation in the same step.
//
// KEYS: session, [stream]. ARGV: now, sid, maxlen.
// Returns {sub, iss} or nil (unknown, ended or expired).
var revokeScript = redis.NewScript(prelude + `
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'sub', 'iss', 'c', 'ls', 'ax', 'ix', 'tk', 'uk')
if not f[1] then return false end
drop(KEYS[1], f[7], f[8], ARGV[2])
if now >= deadline(f[5], f[4], f[6]) then return false end
publish(KEYS[2], ARGV[3], ARGV[2], f[1], f[2], ARGV[1])
return {f[1], f[2]}
`)

// revokeSubjectScript ends every session of one subject. It runs as one
// step, so a Create of the same subject (same slot, same script engine)
// lands wholly before it (and is ended) or wholly after it (SS-03).
//
// KEYS: subject index, [stream]. ARGV: now, session key prefix, maxlen.
// Returns {sid, iss, ...} of the sessions it ended.
var revokeSubjectScript = redis.NewScript(prelude + `
local now = tonumber(ARGV[1])
local out = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local k = ARGV[2] .. sid
  local f = redis.call('HMGET', k, 'sub', 'iss', 'c', 'ls', 'ax', 'ix', 'tk')
  if f[1] then
    drop(k, f[7], nil, sid)
    if now < deadline(f[5], f[4], f[6]) then
      publish(KEYS[2], ARGV[3], sid, f[1], f[2], ARGV[1])
      out[#out + 1] = sid
      out[#out + 1] = f[2]
    end
  end
end
redis.call('DEL', KEYS[1])
return out
`)

// endListedScript ends the listed sessions of one subject that are still
// live: on a Cluster the caller has published their revocations first
// (Store.revokeSubjectSplit).
//
// KEYS: subject index. ARGV: now, session key prefix, sid...
// Returns {sid, iss, ...} of the sessions it ended.
var endListedScript = redis.NewScript(prelude + `
local now = tonumber(ARGV[1])
local out = {}
for i = 3, #ARGV do
  local sid = ARGV[i]
  local k = ARGV[2] .. sid
  local f = redis.call('HMGET', k, 'sub', 'iss', 'c', 'ls', 'ax', 'ix', 'tk')
  if f[1] then
    drop(k, f[7], KEYS[1], sid)
    if now < deadline(f[5], f[4], f[6]) then
      out[#out + 1] = sid
      out[#out + 1] = f[2]
    end
  end
end
return out
`)

// listScript returns the subject's live sessions, oldest first, as
// {sid, fields..., sid, fields...}, removing dead entries on the way.
//
// KEYS: subject index. ARGV: now, session key prefix.
var listScript = redis.NewScript(prelude + `
local now = tonumber(ARGV[1])
local out = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local k = ARGV[2] .. sid
  local f = redis.call('HMGET', k, unpack(FIELDS))
  if not f[1] then
    redis.call('ZREM', KEYS[1], sid)
  elseif now >= deadline(f[9], f[8], f[10]) then
    drop(k, f[12], KEYS[1], sid)
  else
    out[#out + 1] = sid
    for i = 1, #FIELDS do out[#out + 1] = f[i] end
  end
end
return out
`)

// nFields is len(FIELDS) in the prelude.
const nFields = 13
