//! The script libraries (`cjson`, `bit`, `struct`) against Redis's own:
//! every case is a Lua snippet run on a real `redis-server` (EVAL) and on a
//! plain mlua state with `reddb_scripting::libraries::install`, each side
//! turning the snippet's results — or the message it raised, through
//! `pcall` — into one string by the same Lua code ([`SHOW`]), so the two
//! strings must be equal byte for byte. Tables are shown in `next` order,
//! so the order the decoder fills them in is compared too.
//!
//! Error messages from the libraries carry no position in either (Redis
//! adds "user_script:1:" only when an error leaves the script); the cases
//! avoid errors raised by Lua itself, whose chunk names differ.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs a case body (the text of a function) and shows what it returned
/// or raised. `cjson.null` is shown as `null`, tables as `{k=v,...}` in
/// `next` order; `depth` bounds the walk.
const SHOW: &str = r##"
local function show(v, depth)
  if v == cjson.null then return "null" end
  local t = type(v)
  if t == "table" then
    if depth > 20 then return "{...}" end
    local parts = {}
    local k = next(v)
    while k ~= nil do
      parts[#parts + 1] = show(k, depth + 1) .. "=" .. show(v[k], depth + 1)
      k = next(v, k)
    end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif t == "string" then
    return string.format("%q", v)
  end
  return t .. ":" .. tostring(v)
end
local function pack(...)
  return select("#", ...), {...}
end
local n, r = pack(pcall(function() CASE end))
local out = {}
for i = 1, n do out[#out + 1] = show(r[i], 0) end
return table.concat(out, " ")
"##;

/// Each case is the body of a function; what it returns (or raises) is
/// compared.
const CASES: &[&str] = &[
    // cjson.encode: numbers, strings, escapes, arrays, objects.
    "return cjson.encode({1,2,{a=3}})",
    "return cjson.encode({})",
    "return cjson.encode('a/b\"\\\\\\1\\127\\200\\r\\n\\t\\8\\12\\11')",
    "return cjson.encode({0.1, 1e15, 1e14, 123456789012345, -0.0, 1/3, 1e-5, 0.0001, 2^53, 1e300, 5e-324, -2.5e-7, 100, 1e21})",
    "return cjson.encode({[1]=1,[2]=2,[4]=4})",
    "return cjson.encode({[1]=1,[20]=2})",
    "return cjson.encode({[1]=1,[10]=2})",
    "return cjson.encode({[1]=1,[11]=2})",
    "return cjson.encode({[1.5]=1, [2]=3})",
    "return cjson.encode({a={b={}}, [3]=cjson.null})",
    "return cjson.encode({a=1,b=2,c=3,d={1,2},e='x',f=true,g=false})",
    "return cjson.encode({[-1]=1, [0]=2})",
    "return cjson.encode({[2^40]=1})",
    "return cjson.encode({[2^31]=1, [1]=2})",
    "return cjson.encode(nil)",
    "return cjson.encode(true), cjson.encode(false), cjson.encode(12), cjson.encode('x')",
    "return cjson.encode(cjson.null)",
    "local t = {} for i = 1, 30 do t['k' .. i] = i end return cjson.encode(t)",
    "local t = {} for i = 1, 100 do t[i] = i * 1.5 end return cjson.encode(t)",
    "return cjson.encode({{},{{}},{a={}}})",
    // cjson.encode errors.
    "return cjson.encode(1/0)",
    "return cjson.encode(-1/0)",
    "return cjson.encode(0/0)",
    "return cjson.encode({[1/0]=1})",
    "return cjson.encode(cjson.decode)",
    "return cjson.encode(coroutine.create(function() end))",
    "return cjson.encode({[true]=1})",
    "return cjson.encode({[{}]=1})",
    "return cjson.encode()",
    "return cjson.encode(1, 2)",
    "local t = {} local c = t for i = 1, 999 do c[1] = {} c = c[1] end return #cjson.encode(t)",
    "local t = {} local c = t for i = 1, 1000 do c[1] = {} c = c[1] end return cjson.encode(t)",
    "local t = {} local c = t for i = 1, 1000 do c.a = {} c = c.a end return cjson.encode(t)",
    "local t = {} t[1] = t return cjson.encode(t)",
    // Raised limits: where the C code's lua_checkstack stops.
    "local c = cjson.new() c.decode_max_depth(100000) return c.decode(string.rep('{\"a\":', 5000))",
    "local c = cjson.new() c.decode_max_depth(100000) return c.decode(string.rep('[', 9000))",
    "local c = cjson.new() c.decode_max_depth(100000) return c.decode(string.rep('[{\"a\":', 3000))",
    "local c = cjson.new() c.encode_max_depth(100000) local t = {} local x = t for i = 1, 5000 do x.a = {} x = x.a end return c.encode(t)",
    "local c = cjson.new() c.encode_max_depth(100000) local t = {} local x = t for i = 1, 9000 do x[1] = {} x = x[1] end return c.encode(t)",
    "local c = cjson.new() c.encode_max_depth(100000) local t = {} local x = t for i = 1, 3000 do x[1] = {a={}} x = x[1].a end return c.encode(t)",
    // cjson configuration (each on a fresh cjson.new(), so nothing lasts).
    "local c = cjson.new() return c.encode_max_depth(), c.decode_max_depth(), c.encode_number_precision(), c.encode_keep_buffer(), c.encode_invalid_numbers(), c.decode_invalid_numbers()",
    "local c = cjson.new() return c.encode_sparse_array()",
    "local c = cjson.new() return c.encode_sparse_array(true, 3, 4)",
    "local c = cjson.new() c.encode_sparse_array(true) return c.encode({[1]=1,[20]=2})",
    "local c = cjson.new() c.encode_sparse_array(false, 0) return c.encode({[1]=1,[20]=2})",
    "local c = cjson.new() c.encode_sparse_array(false, 0) return #c.encode({[200000]=1})",
    "local c = cjson.new() c.encode_sparse_array(false, 0) return c.encode({[2^31]=1}), c.encode({[2^31-1]=1, [2^33]=2}):sub(1, 20)",
    "local c = cjson.new() return c.encode_sparse_array(1), c.encode_sparse_array(true, -1)",
    "local c = cjson.new() return c.encode_sparse_array('on')",
    "local c = cjson.new() return c.encode_max_depth(0)",
    "local c = cjson.new() return c.encode_max_depth('x')",
    "local c = cjson.new() return c.encode_max_depth(1, 2)",
    "local c = cjson.new() return c.encode_max_depth(2^32 + 5)",
    "local c = cjson.new() c.encode_max_depth(2) return c.encode({{1}}), pcall(c.encode, {{{1}}})",
    "local c = cjson.new() c.decode_max_depth(2) return pcall(c.decode, '[[[1]]]')",
    "local c = cjson.new() return c.encode_number_precision(15)",
    "local c = cjson.new() c.encode_number_precision(3) return c.encode({3.14159, 12345, 0.000123456})",
    "local c = cjson.new() return c.encode_invalid_numbers('maybe')",
    "local c = cjson.new() return c.encode_invalid_numbers('null'), c.encode({1/0, 0/0})",
    "local c = cjson.new() return c.encode_invalid_numbers(true), c.encode({1/0, -1/0})",
    "local c = cjson.new() return c.encode_invalid_numbers('on'), c.encode_invalid_numbers()",
    "local c = cjson.new() return c.encode_keep_buffer(false), c.encode({1})",
    "local c = cjson.new() return c.encode_keep_buffer(3)",
    "local c = cjson.new() return c.decode_invalid_numbers(false), pcall(c.decode, '0x10')",
    "local c = cjson.new() c.decode_invalid_numbers(false) return pcall(c.decode, '[+1]')",
    "local c = cjson.new() c.decode_invalid_numbers(false) return pcall(c.decode, '01')",
    "local c = cjson.new() c.decode_invalid_numbers(false) return pcall(c.decode, '-Infinity')",
    "local c = cjson.new() c.decode_invalid_numbers(false) return pcall(c.decode, 'NaN')",
    "local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('[-0, 0.5, 1e3]')",
    "return cjson._NAME, cjson._VERSION, type(cjson.null)",
    // cjson.decode.
    "return cjson.decode('[1,2,3,{\"a\":null}]')",
    "return cjson.decode('{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"},\"f\":-0.5e2}')",
    "return cjson.decode('{\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9}')",
    "return cjson.decode('0x10'), cjson.decode('-Infinity'), cjson.decode('1e400'), cjson.decode('+1'), cjson.decode('01')",
    "return cjson.decode('nan') ~= cjson.decode('nan')",
    "return cjson.decode('  123abc')",
    "return cjson.decode('\"\\\\u00e9\\\\ud83d\\\\ude00\\\\/\\\\b\\\\f\\\\n\\\\r\\\\t\\\\\"\\\\\\\\\"')",
    "return cjson.decode('\"\\\\u0000x\"')",
    "return cjson.decode('12'), cjson.decode(12), cjson.decode('\"x\"'), cjson.decode('true'), cjson.decode('null')",
    "return cjson.decode('[1,2')",
    "return cjson.decode('{\"a\" 1}')",
    "return cjson.decode('')",
    "return cjson.decode('\"abc')",
    "return cjson.decode('\"\\\\ud800\"')",
    "return cjson.decode('\"\\\\udc00\"')",
    "return cjson.decode('\"\\\\ud800\\\\u0041\"')",
    "return cjson.decode('\"\\\\u12g4\"')",
    "return cjson.decode('\"\\\\x\"')",
    "return cjson.decode('truex')",
    "return cjson.decode('[1] x')",
    "return cjson.decode('-')",
    "return cjson.decode('[1,]')",
    "return cjson.decode('{,}')",
    "return cjson.decode('{\"a\":1,}')",
    "return cjson.decode('{\"a\":1 \"b\"}')",
    "return cjson.decode('[1 2]')",
    "return cjson.decode('nul')",
    "return cjson.decode('@')",
    "return cjson.decode('.5')",
    "return cjson.decode('1.e5'), cjson.decode('1e'), cjson.decode('0x1p4')",
    "return cjson.decode(string.rep('[', 1001))",
    "return cjson.decode(string.rep('[', 1000))",
    "return cjson.decode(string.rep('{\"a\":', 1001))",
    "return #cjson.encode(cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000)))",
    "return cjson.decode('a\\0')",
    "return cjson.decode('1\\0 2')",
    "return cjson.decode('[1]\\0garbage')",
    "return cjson.decode({})",
    "return cjson.decode()",
    "return cjson.decode('1', '2')",
    "return cjson.decode(nil)",
    "local t = cjson.decode('[1,2,3]') return #t, cjson.encode(t)",
    "return cjson.encode(cjson.decode('{\"x\":[1,{\"y\":null}],\"z\":\"\\\\u2028\"}'))",
    // bit.
    "return bit.tobit(0xffffffff), bit.tobit(2^32+5), bit.tohex(-1), bit.tohex(255, -4), bit.tohex(255, 2), bit.tohex(255, 0), bit.tohex(0x12345678, 12), bit.tohex(1, -100)",
    "return bit.bnot(0), bit.band(0xff, 0x0f, 0x3), bit.bor(1,2,4), bit.bxor(5,3), bit.band(), 1",
    "return bit.lshift(1, 31), bit.lshift(1,32), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.rol(0x80000001, 1), bit.ror(1, 1), bit.bswap(0x12345678)",
    "return bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-1.5), bit.tobit(1e20), bit.tobit(0/0), bit.tobit(1/0), bit.tobit(-2^31-1)",
    "return bit.band('x')",
    "return bit.tobit('12'), bit.tobit('0x10'), bit.tobit(' 7 ')",
    "return bit.tobit(nil)",
    "return bit.tohex(1, 'z')",
    "return bit.lshift(1)",
    "return bit.tobit('0')",
    "return bit.tobit({})",
    "return bit.bor(1, 2, {})",
    "return bit.lshift(1, -1), bit.rshift(0x80000000, 33), bit.rol(5, 0), bit.ror(5, 32)",
    "local t = {} for k in pairs(bit) do t[#t+1] = k end table.sort(t) return table.concat(t, ',')",
    // cmsgpack.
    "local function b(s) return table.concat({s:byte(1, -1)}, ' ') end return b(cmsgpack.pack({1,2,3}, 'abc', 1.5, -1, 2^40, {a=1}))",
    "local function b(s) return table.concat({s:byte(1, -1)}, ' ') end return b(cmsgpack.pack(0, 127, 128, 255, 256, 65535, 65536, 2^32-1, 2^32, 2^53, -32, -33, -128, -129, -32768, -32769, -2^31, -2^31-1, -2^53))",
    "local function b(s) return table.concat({s:byte(1, -1)}, ' ') end return b(cmsgpack.pack(0.1, 0.5, 1/0, -1/0, 2^63, -2^63, 2^64, -0.0, 1e300, 3.25))",
    "local function b(s) return table.concat({s:byte(1, -1)}, ' ') end return b(cmsgpack.pack(0/0)):sub(1, 2)",
    "local function b(s) return table.concat({s:byte(1, -1)}, ' ') end return b(cmsgpack.pack(string.rep('x', 31))), b(cmsgpack.pack(string.rep('x', 32)):sub(1, 12)), b(cmsgpack.pack(string.rep('x', 256)):sub(1, 12)), b(cmsgpack.pack(string.rep('x', 65536)):sub(1, 16))",
    "local function b(s) return table.concat({s:byte(1, -1)}, ' ') end return b(cmsgpack.pack({}, {[1]=1,[3]=3}, {[2]=2}, {[1.5]=1}, {[-1]=1}, {[0]=1}, {x=1,y=2,z={1,{2}}}, true, false, cjson.encode))",
    "local t = {} for i = 1, 20 do t[i] = i end local m = {} for i = 1, 20 do m['k' .. i] = i end local function b(s) return table.concat({s:byte(1, -1)}, ' ') end return b(cmsgpack.pack(t)), b(cmsgpack.pack(m))",
    "local t = {} local x = t for i = 1, 20 do x[1] = {} x = x[1] end local function b(s) return table.concat({s:byte(1, -1)}, ' ') end return b(cmsgpack.pack(t))",
    "local t = {} t.self = t local function b(s) return table.concat({s:byte(1, -1)}, ' ') end return #cmsgpack.pack(t), b(cmsgpack.pack(t)):sub(1, 40)",
    "return cmsgpack.pack()",
    "local t = {} for i = 1, 4001 do t[i] = i end return cmsgpack.pack(unpack(t))",
    "local t = {} for i = 1, 4000 do t[i] = i end return #cmsgpack.pack(unpack(t))",
    "return cmsgpack.unpack(cmsgpack.pack({1,2,3}, 'abc', 1.5, -1, 2^40, {a=1, b={true, false}}))",
    "return cmsgpack.unpack('\\193')",
    "return cmsgpack.unpack('\\205\\1')",
    "return cmsgpack.unpack('\\129\\192\\1')",
    "return cmsgpack.unpack('\\129\\203\\127\\248\\0\\0\\0\\0\\0\\0\\1')",
    "return cmsgpack.unpack('\\130\\1\\192\\2\\3')",
    "return cmsgpack.unpack('\\147\\1\\192\\3')",
    "return cmsgpack.unpack('')",
    "return cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255', '\\211\\255\\255\\255\\255\\255\\255\\255\\255')",
    "return cmsgpack.unpack('\\207\\128\\0\\0\\0\\0\\0\\0\\0\\211\\128\\0\\0\\0\\0\\0\\0\\1\\209\\255\\1\\208\\128\\210\\128\\0\\0\\0\\224\\255\\127')",
    "return cmsgpack.unpack('\\217\\3abc\\218\\0\\2xy\\219\\0\\0\\0\\1z\\163abc')",
    "return cmsgpack.unpack('\\217\\5abc')",
    "return cmsgpack.unpack('\\219\\255\\255\\255\\255abc')",
    "return cmsgpack.unpack('\\221\\255\\255\\255\\255\\1\\2')",
    "return cmsgpack.unpack('\\196\\1a')",
    "return cmsgpack.unpack('\\220\\0\\0\\222\\0\\0\\144\\128')",
    "return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))",
    "return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)",
    "return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 3)",
    "return cmsgpack.unpack_one('x', 5)",
    "return cmsgpack.unpack_one('x', -1)",
    "return cmsgpack.unpack_one('')",
    "return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 1)",
    "return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 0)",
    "return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 1)",
    "return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 5)",
    "return cmsgpack.unpack_limit('x', -1, 5)",
    "return cmsgpack.unpack_limit('x')",
    "return cmsgpack.unpack_limit('x', 'y')",
    "return cmsgpack.unpack(nil)",
    "return cmsgpack.unpack(12)",
    "return #{cmsgpack.unpack(string.rep('\\1', 7990))}",
    "return #{cmsgpack.unpack(string.rep('\\1', 8000))}",
    "return #{cmsgpack.unpack(string.rep('\\1', 7998), 1)}",
    "return cmsgpack.unpack(string.rep('\\145', 5000) .. '\\1')",
    "return cmsgpack.unpack(string.rep('\\129\\1', 5000) .. '\\1')",
    "return cmsgpack.unpack(string.rep('\\145', 3999) .. '\\1')",
    "local v = cmsgpack.unpack(string.rep('\\145', 3990) .. '\\1') local n = 0 while type(v) == 'table' do v = v[1] n = n + 1 end return n, v",
    "return cmsgpack.unpack(string.rep('\\145', 3999) .. '\\144')",
    "return cmsgpack.unpack(string.rep('\\145', 3998) .. '\\144')",
    "return cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION",
    // struct.
    "return struct.pack('>i2<H!4bIdfs', 1, 2, 3, 4, 1.5, 2.5, 'ab')",
    "return struct.pack('i33', 1)",
    "return struct.pack('i3', 1)",
    "return struct.pack('!3', 1)",
    "return struct.pack('q', 1)",
    "return struct.pack('c99999999999', 1)",
    "return struct.pack('c5', 'ab')",
    "return struct.pack('c0', 'abc'), struct.pack('s', 'abc'), struct.pack('c2', 'abc')",
    "return struct.pack('i', 'x')",
    "return struct.pack('i')",
    "return struct.pack('i', '12')",
    "return struct.unpack('i', 'ab')",
    "return struct.unpack('c0', 'ab')",
    "return struct.unpack('bc0', '\\2ab')",
    "return struct.unpack('c1c0', '2abc')",
    "return struct.unpack('s', 'ab')",
    "return struct.unpack('b', 'ab', 5)",
    "return struct.unpack('b', 'ab', 0)",
    "return struct.unpack('b', 'ab', -5)",
    "return struct.unpack('b', 'ab', 3)",
    "return struct.unpack('b', 'ab', 2.9)",
    "return struct.unpack('b', 'ab', 'x')",
    "return struct.size('s')",
    "return struct.size('c0')",
    "return struct.size('!8bd'), struct.size('bTlLhHi7'), struct.size('z'), struct.size('!2bd'), struct.size('<>  x')",
    "return struct.size('$')",
    "return struct.unpack('z', '')",
    "return struct.unpack('>I3s', '\\1\\2\\3hello\\0rest')",
    "return struct.unpack('<i8', struct.pack('<i8', -2))",
    "return struct.unpack('<I8', struct.pack('<i8', -2))",
    "return struct.unpack('<i16', struct.pack('<i16', -2))",
    "return struct.pack('<i16', -2), struct.pack('<I16', 2^70), struct.pack('<i4', 2^40+7)",
    "return struct.pack('<i4', 1e300), struct.pack('<i4', -1e300), struct.pack('<i4', 0/0), struct.pack('<i4', -2.7), struct.pack('>I2', 2^63), struct.pack('>I8', 2^64)",
    "return struct.pack('i0', 1), struct.unpack('i0', '')",
    "return struct.unpack('>f<f>d', struct.pack('>f<f>d', 1.1, -2.5, 1/3))",
    "return struct.unpack('!4bi', struct.pack('!4bi', 7, -9))",
    "return struct.unpack('!bh!2bh', struct.pack('!bh!2bh', 1, 2, 3, 4))",
    "return struct.unpack('bxxb', '\\1\\0\\0\\2', 1)",
    "return struct.unpack('b\\0b', '\\1\\2')",
    "return struct.pack('!0b', 1)",
    "return struct.pack('b', 300), struct.pack('B', -1), struct.pack('h', 70000)",
    "return struct.unpack('Bhb', '\\255\\255\\255\\128')",
    "return struct.pack('d', 'abc')",
    "return struct.pack(12, 1)",
    "return struct.unpack(nil, 'x')",
    "return struct.unpack('b')",
    "local t = {} for i = 1, 7000 do t[i] = i end return bit.bor(unpack(t)), bit.band(unpack(t))",
    "local t = {} for i = 1, 7000 do t[i] = 'x' .. i end return #struct.pack(string.rep('s', 7000), unpack(t))",
    "local t = {} for i = 1, 7000 do t[i] = {} end return cjson.encode(unpack(t))",
    "local t = {} for i = 1, 7900 do t[i] = 'x' end return bit.band(1, unpack(t))",
    "local r = {struct.unpack(string.rep('b', 7990), string.rep('\\1', 7990))} return #r, r[#r]",
    "local r = {struct.unpack(string.rep('b', 7997), string.rep('\\1', 7997))} return #r, r[#r]",
    "local r = {struct.unpack(string.rep('b', 7998), string.rep('\\1', 7998))} return #r, r[#r]",
    "local r = {struct.unpack(string.rep('b', 9000), string.rep('\\1', 9000))} return #r, r[#r]",
    "local r = {struct.unpack(string.rep('b', 7996), string.rep('\\1', 7996), 1, 2)} return #r, r[#r]",
];

/// A redis-server on a Unix socket in a fresh directory, stopped on drop.
struct Redis {
    child: Child,
    dir: std::path::PathBuf,
    socket: std::path::PathBuf,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_redis() -> Option<Redis> {
    static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("reddb-lualibs-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).ok()?;
    let socket = dir.join("redis.sock");
    let spawned = Command::new("redis-server")
        .args(["--port", "0", "--save", "", "--appendonly", "no"])
        .arg("--unixsocket")
        .arg(&socket)
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let required = std::env::var_os("REDDB_REQUIRE_CLIENTS").is_some_and(|v| !v.is_empty());
            assert!(
                !required,
                "redis-server cannot be started ({e}) but REDDB_REQUIRE_CLIENTS is set"
            );
            eprintln!("SKIPPED: redis-server is not installed ({e}); set REDDB_REQUIRE_CLIENTS=1 to make this a failure");
            let _ = std::fs::remove_dir_all(&dir);
            return None;
        }
    };
    let redis = Redis { child, dir, socket };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !redis.socket.exists() {
        assert!(
            Instant::now() < deadline,
            "redis-server did not open its socket"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(redis)
}

/// One RESP reply, as text: a bulk or simple string as is, an error
/// prefixed with "ERROR ".
fn read_reply(r: &mut impl BufRead) -> String {
    let mut line = String::new();
    r.read_line(&mut line).expect("read reply");
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line.split_at(1);
    match kind {
        "$" => {
            let n: usize = rest.parse().expect("bulk length");
            let mut buf = vec![0u8; n + 2];
            r.read_exact(&mut buf).expect("bulk body");
            buf.truncate(n);
            String::from_utf8_lossy(&buf).into_owned()
        }
        "-" => format!("ERROR {rest}"),
        _ => format!("UNEXPECTED {line}"),
    }
}

fn eval_on_redis(stream: &mut UnixStream, reader: &mut impl BufRead, script: &str) -> String {
    let mut cmd = Vec::new();
    cmd.extend_from_slice(b"*3\r\n$4\r\nEVAL\r\n");
    cmd.extend_from_slice(format!("${}\r\n", script.len()).as_bytes());
    cmd.extend_from_slice(script.as_bytes());
    cmd.extend_from_slice(b"\r\n$1\r\n0\r\n");
    stream.write_all(&cmd).expect("send EVAL");
    read_reply(reader)
}

fn eval_here(script: &str) -> String {
    let lua = mlua::Lua::new();
    reddb_scripting::libraries::install(&lua).expect("install");
    match lua
        .load(script)
        .set_name("@user_script")
        .eval::<mlua::LuaString>()
    {
        Ok(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        Err(e) => format!("ERROR {e}"),
    }
}

/// A small seeded generator (xorshift64*), so every run sends the same
/// cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let i = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        items[i]
    }
}

/// A double written so Lua reads back exactly that double (Rust's `{:e}`
/// is the shortest round-trip form).
fn lua_number(x: f64) -> String {
    if x.is_nan() {
        "(0/0)".to_owned()
    } else if x.is_infinite() {
        if x > 0.0 { "(1/0)" } else { "(-1/0)" }.to_owned()
    } else {
        format!("({x:e})")
    }
}

/// A Lua string literal for any bytes.
fn lua_string(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b == b' ' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\{b:03}"));
        }
    }
    out.push('"');
    out
}

fn random_double(rng: &mut Rng) -> f64 {
    match rng.below(4) {
        0 => f64::from_bits(rng.next()),
        1 => (rng.below(2_000_001) as f64 - 1_000_000.0) / 10f64.powi(rng.below(8) as i32),
        2 => (rng.next() >> 11) as f64 * 10f64.powi(rng.below(60) as i32 - 30),
        _ => rng.below(1000) as f64 + 0.5,
    }
}

/// Random JSON-ish text: valid documents, with some bytes changed.
fn random_json(rng: &mut Rng, depth: u32, out: &mut Vec<u8>) {
    let choice = if depth > 4 {
        rng.below(5)
    } else {
        rng.below(8)
    };
    match choice {
        0 => out.extend_from_slice(rng.pick(&["null", "true", "false"]).as_bytes()),
        1 => out.extend_from_slice(format!("{}", random_double(rng)).as_bytes()),
        2 => out.extend_from_slice(
            rng.pick(&[
                "0",
                "-0",
                "1e5",
                "-1.5E-3",
                "0x1F",
                "1e400",
                "123456789012345678",
                "Infinity",
                "-nan",
                "+5",
                "007",
            ])
            .as_bytes(),
        ),
        3 | 4 => {
            out.push(b'"');
            for _ in 0..rng.below(8) {
                let piece = rng.pick(&[
                    "a",
                    "\\n",
                    "\\u00e9",
                    "\\ud83d\\ude00",
                    "\\/",
                    "\\\\",
                    "\\\"",
                    "é",
                    "/",
                    "\\t",
                    "x y",
                ]);
                out.extend_from_slice(piece.as_bytes());
            }
            out.push(b'"');
        }
        5 | 6 => {
            out.push(b'[');
            for i in 0..rng.below(5) {
                if i > 0 {
                    out.push(b',');
                }
                random_json(rng, depth + 1, out);
            }
            out.push(b']');
        }
        _ => {
            out.push(b'{');
            for i in 0..rng.below(5) {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(format!("\"k{}\":", rng.below(20)).as_bytes());
                random_json(rng, depth + 1, out);
            }
            out.push(b'}');
        }
    }
}

/// Seeded random cases: number formatting, decoding (and re-encoding)
/// of random and damaged JSON, bit operations on random doubles.
fn random_cases() -> Vec<String> {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut cases = Vec::new();
    for _ in 0..40 {
        let nums: Vec<String> = (0..10)
            .map(|_| lua_number(random_double(&mut rng)))
            .collect();
        cases.push(format!(
            "local c = cjson.new() c.encode_invalid_numbers(true) c.encode_number_precision({}) return c.encode({{{}}})",
            1 + rng.below(14),
            nums.join(",")
        ));
    }
    for _ in 0..120 {
        let mut text = Vec::new();
        random_json(&mut rng, 0, &mut text);
        if rng.below(3) == 0 && !text.is_empty() {
            let at = usize::try_from(rng.below(text.len() as u64)).unwrap_or(0);
            let junk = rng.pick(&["", ",", "]", "}", ":", "\"", "\\", "x", " ", "\u{0}"]);
            text.splice(at..at + usize::from(rng.below(2) == 0), junk.bytes());
        }
        let lit = lua_string(&text);
        cases.push(format!(
            "local v = cjson.decode({lit}) return v, cjson.encode(v)"
        ));
    }
    for _ in 0..80 {
        // MessagePack-ish bytes: real headers with random payloads.
        let mut bytes = Vec::new();
        for _ in 0..1 + rng.below(6) {
            let head = rng.pick(&[
                "\u{1}", "\u{7f}", "\u{e0}", "\u{c0}", "\u{c2}", "\u{c3}", "\u{c1}", "\u{c4}",
                "\u{92}", "\u{81}", "\u{a3}", "\u{90}", "\u{80}",
            ]);
            bytes.extend(
                head.chars()
                    .map(|c| u8::try_from(u32::from(c)).unwrap_or(0)),
            );
            let special = [
                0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xca, 0xcb, 0xd9, 0xda, 0xdc, 0xde,
            ];
            if rng.below(2) == 0 {
                bytes.push(special[usize::try_from(rng.below(special.len() as u64)).unwrap_or(0)]);
            }
            for _ in 0..rng.below(9) {
                bytes.push(u8::try_from(rng.below(256)).unwrap_or(0));
            }
        }
        let lit = lua_string(&bytes);
        let f = rng.pick(&[
            "cmsgpack.unpack(s)",
            "cmsgpack.unpack_one(s)",
            "cmsgpack.unpack_limit(s, 2)",
            "cmsgpack.unpack_one(s, 1)",
        ]);
        cases.push(format!(
            "local s = {lit} local r = {{{f}}} local p = {{}} for i = 1, table.maxn(r) do local v = r[i] p[i] = type(v) == 'table' and cmsgpack.pack(v) or v end return unpack(p, 1, table.maxn(r))"
        ));
    }
    for _ in 0..40 {
        let nums: Vec<String> = (0..6)
            .map(|_| lua_number(random_double(&mut rng)))
            .collect();
        cases.push(format!(
            "return cmsgpack.unpack(cmsgpack.pack({}))",
            nums.join(",")
        ));
    }
    for _ in 0..40 {
        let fmt: String = (0..1 + rng.below(6))
            .map(|_| {
                rng.pick(&[
                    "b", "B", "h", "H", "i", "I3", "l", "L", "T", "f", "d", "<", ">", "!", "!2",
                    "x", "i7",
                ])
            })
            .collect();
        let args: Vec<String> = (0..8)
            .map(|_| lua_number(random_double(&mut rng)))
            .collect();
        cases.push(format!(
            "local p = struct.pack('{fmt}', {a}) return p, struct.unpack('{fmt}', p), struct.size('{fmt}')",
            a = args.join(",")
        ));
    }
    for _ in 0..40 {
        let op = rng.pick(&[
            "tobit", "bnot", "bswap", "tohex", "band", "bor", "bxor", "lshift", "rshift",
            "arshift", "rol", "ror",
        ]);
        let a = lua_number(random_double(&mut rng));
        let b = lua_number(rng.below(80) as f64 - 40.0);
        cases.push(format!("return bit.{op}({a}, {b})"));
    }
    cases
}

/// Runs every case on both sides; the answers Redis gave, or `None` when
/// redis-server is not installed (and not required).
fn run_cases(cases: &[String]) -> Option<Vec<String>> {
    let redis = start_redis()?;
    let mut answers = Vec::new();
    let mut stream = UnixStream::connect(&redis.socket).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut failures = Vec::new();
    for case in cases {
        let script = SHOW.replace("CASE", case);
        let want = eval_on_redis(&mut stream, &mut reader, &script);
        let got = eval_here(&script);
        assert!(
            !want.starts_with("ERROR"),
            "the harness failed on redis for {case}: {want}"
        );
        if std::env::var_os("LUALIBS_SHOW").is_some() {
            eprintln!("{case}\n  -> {want}");
        }
        if want != got {
            failures.push(format!("case: {case}\n redis: {want}\n   red: {got}"));
        }
        answers.push(want);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    Some(answers)
}

#[test]
fn libraries_answer_as_redis_does() {
    let cases: Vec<String> = CASES.iter().map(|c| (*c).to_owned()).collect();
    let _ = run_cases(&cases);
}

#[test]
fn libraries_answer_random_cases_as_redis_does() {
    let Some(answers) = run_cases(&random_cases()) else {
        return;
    };
    // The generator must reach both the answers and the errors.
    let ok = answers
        .iter()
        .filter(|a| a.starts_with("boolean:true"))
        .count();
    let failed = answers
        .iter()
        .filter(|a| a.starts_with("boolean:false"))
        .count();
    assert!(
        ok >= 100 && failed >= 10,
        "{ok} answers and {failed} errors of {}",
        answers.len()
    );
}
