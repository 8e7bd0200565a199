//! The engine end to end with a fake runner: sandbox, conversions, error
//! lines, limits. (Side by side with redis-server: tests/wire_scripting.rs.)

use super::*;

/// Answers `PING` with `+PONG`, `GET k` with a bulk, `ERRME` with an error,
/// `HGETALL` with a map in RESP3; records each call.
#[derive(Default)]
struct Fake {
    calls: Vec<Vec<Vec<u8>>>,
    busy_calls: u32,
    kill_after: Option<u32>,
}

impl CommandRunner for Fake {
    fn call(&mut self, args: &[Vec<u8>], mode: CallMode) -> Vec<u8> {
        let resp3 = mode.resp3;
        self.calls.push(args.to_vec());
        if mode.no_writes && args.first().map(Vec::as_slice) == Some(b"set") {
            return b"-ERR Write commands are not allowed from read-only scripts.\r\n".to_vec();
        }
        match args.first().map(Vec::as_slice) {
            Some(b"ping") => b"+PONG\r\n".to_vec(),
            Some(b"get") => b"$3\r\nval\r\n".to_vec(),
            Some(b"nil") => b"$-1\r\n".to_vec(),
            Some(b"hgetall") if resp3 => b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n".to_vec(),
            Some(b"hgetall") => b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n".to_vec(),
            _ => b"-ERR value is not an integer or out of range\r\n".to_vec(),
        }
    }

    fn permitted(&mut self, args: &[Vec<u8>]) -> Option<bool> {
        (args.first().map(Vec::as_slice) == Some(b"ping")).then_some(true)
    }

    fn busy(&mut self, _: Duration) -> bool {
        self.busy_calls += 1;
        self.kill_after.is_some_and(|n| self.busy_calls >= n)
    }
}

fn eval_with(
    engine: &mut ScriptEngine,
    fake: &mut Fake,
    body: &str,
    keys: &[&str],
    argv: &[&str],
) -> Outcome {
    let keys: Vec<Vec<u8>> = keys.iter().map(|k| k.as_bytes().to_vec()).collect();
    let argv: Vec<Vec<u8>> = argv.iter().map(|k| k.as_bytes().to_vec()).collect();
    engine.eval(body.as_bytes(), &keys, &argv, fake)
}

fn eval(body: &str) -> ScriptReply {
    let mut engine = ScriptEngine::new(EngineConfig::default());
    eval_with(&mut engine, &mut Fake::default(), body, &[], &[]).reply
}

fn err(s: &str) -> ScriptReply {
    ScriptReply::Error(s.as_bytes().to_vec())
}

fn bulk(s: &str) -> ScriptReply {
    ScriptReply::Bulk(s.as_bytes().to_vec())
}

fn sha(body: &str) -> String {
    sha1_hex(body.as_bytes())
}

#[test]
fn keys_argv_and_calls() {
    let mut engine = ScriptEngine::new(EngineConfig::default());
    let mut fake = Fake::default();
    let out = eval_with(
        &mut engine,
        &mut fake,
        "return {KEYS[1], ARGV[1], redis.call('get', KEYS[1]), redis.call('ping'), redis.call('nil')}",
        &["k"],
        &["a"],
    );
    assert_eq!(
        out.reply,
        ScriptReply::Array(vec![
            bulk("k"),
            bulk("a"),
            bulk("val"),
            ScriptReply::Status(b"PONG".to_vec()),
            ScriptReply::Null
        ])
    );
    assert_eq!(fake.calls[0], vec![b"get".to_vec(), b"k".to_vec()]);
    assert!(engine.exists(sha1_hex(b"return {KEYS[1], ARGV[1], redis.call('get', KEYS[1]), redis.call('ping'), redis.call('nil')}").as_bytes()));
}

#[test]
fn errors_read_like_redis() {
    let body = "return redis.call('incr','s')";
    assert_eq!(
        eval(body),
        err(&format!(
            "ERR value is not an integer or out of range script: {}, on @user_script:1.",
            sha(body)
        ))
    );
    assert_eq!(
        eval("return redis.pcall('incr','s')"),
        err("ERR value is not an integer or out of range")
    );
    let body = "error('boom')";
    assert_eq!(
        eval(body),
        err(&format!(
            "ERR user_script:1: boom script: {}, on @user_script:1.",
            sha(body)
        ))
    );
    let body = "\n\nerror({err='WRONG custom'})";
    assert_eq!(
        eval(body),
        err(&format!(
            "WRONG custom script: {}, on @user_script:3.",
            sha(body)
        ))
    );
    let body = "error()";
    assert_eq!(
        eval(body),
        err(&format!(
            "ERR nil script: {}, on @user_script:1.",
            sha(body)
        ))
    );
    assert_eq!(
        eval("return redis.error_reply('My Error')"),
        err("My Error")
    );
    assert_eq!(eval("return redis.error_reply('')"), err("ERR "));
    assert_eq!(eval("return {err='-x y'}"), err("-x y"));
    assert_eq!(
        eval("return redis.status_reply('FINE')"),
        ScriptReply::Status(b"FINE".to_vec())
    );
    assert_eq!(
        eval("return redis.status_reply(1)"),
        err("ERR wrong number or type of arguments")
    );
    assert_eq!(
        eval("return +"),
        err("ERR Error compiling script (new function): user_script:1: unexpected symbol near '+'")
    );
    let body = "return redis.call()";
    assert_eq!(
        eval(body),
        err(&format!(
            "ERR Please specify at least one argument for this redis lib call script: {}, on @user_script:1.",
            sha(body)
        ))
    );
    let body = "return redis.sha1hex()";
    assert_eq!(
        eval(body),
        err(&format!(
            "ERR wrong number of arguments script: {}, on @user_script:1.",
            sha(body)
        ))
    );
    assert_eq!(
        eval("local ok, e = pcall(function() redis.call('incr','s') end) return e"),
        bulk("ERR value is not an integer or out of range")
    );
}

#[test]
fn globals_are_guarded() {
    for (body, want) in [
        ("x = 5", "ERR user_script:1: Attempt to modify a readonly table"),
        ("string.x = 1", "ERR user_script:1: Attempt to modify a readonly table"),
        (
            "return os.execute('id')",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'os'",
        ),
        (
            "return io.open('/etc/passwd')",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'io'",
        ),
        (
            "return loadstring('return 1')()",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'loadstring'",
        ),
        (
            "return require('os')",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'require'",
        ),
        (
            "return debug.getinfo(1)",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'debug'",
        ),
        (
            "return dofile('/etc/passwd')",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'dofile'",
        ),
    ] {
        assert_eq!(
            eval(body),
            err(&format!("{want} script: {}, on @user_script:1.", sha(body))),
            "{body}"
        );
    }
    assert_eq!(eval("return string.dump"), ScriptReply::Null);
    assert_eq!(eval("return type(coroutine)"), bulk("table"));
    assert_eq!(eval("return redis.REDIS_VERSION"), bulk("7.0.0"));
}

#[test]
fn each_run_starts_fresh() {
    let mut engine = ScriptEngine::new(EngineConfig::default());
    let mut fake = Fake::default();
    let first = eval_with(
        &mut engine,
        &mut fake,
        "rawset(_G, 'left', 1) return 1",
        &[],
        &[],
    );
    assert_eq!(first.reply, ScriptReply::Int(1));
    let body = "return left";
    let second = eval_with(&mut engine, &mut fake, body, &[], &[]);
    assert_eq!(
        second.reply,
        err(&format!(
            "ERR user_script:1: Script attempted to access nonexistent global variable 'left' script: {}, on @user_script:1.",
            sha(body)
        ))
    );
}

#[test]
fn math_random_is_redis_sequence() {
    assert_eq!(
        eval("return {math.random(1000000), math.random(1000000)}"),
        ScriptReply::Array(vec![ScriptReply::Int(170_829), ScriptReply::Int(749_902)])
    );
    assert_eq!(
        eval("math.randomseed(7) return {math.random(1000000), math.random(1000000)}"),
        ScriptReply::Array(vec![ScriptReply::Int(266_445), ScriptReply::Int(682_036)])
    );
}

#[test]
fn resp3_replies() {
    assert_eq!(
        eval("redis.setresp(3) return redis.call('hgetall', 'h')"),
        ScriptReply::Map(vec![(bulk("f"), bulk("v"))])
    );
    assert_eq!(
        eval("return redis.call('hgetall', 'h')"),
        ScriptReply::Array(vec![bulk("f"), bulk("v")])
    );
    assert_eq!(
        eval("redis.setresp(3) return true"),
        ScriptReply::Bool(true)
    );
}

#[test]
fn memory_cap_fails_the_script_only() {
    let mut engine = ScriptEngine::new(EngineConfig {
        memory_limit: 4 * 1024 * 1024,
        ..EngineConfig::default()
    });
    let mut fake = Fake::default();
    let out = eval_with(
        &mut engine,
        &mut fake,
        "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1024) .. i end return #t",
        &[],
        &[],
    );
    match out.reply {
        ScriptReply::Error(e) => assert!(
            String::from_utf8_lossy(&e).contains("not enough memory"),
            "{}",
            String::from_utf8_lossy(&e)
        ),
        other => panic!("{other:?}"),
    }
    let again = eval_with(&mut engine, &mut fake, "return 1", &[], &[]);
    assert_eq!(again.reply, ScriptReply::Int(1));
}

#[test]
fn busy_script_is_killed_and_pcall_cannot_stop_it() {
    let mut engine = ScriptEngine::new(EngineConfig {
        busy_after: Duration::from_millis(50),
        ..EngineConfig::default()
    });
    for body in [
        "while true do end",
        "while true do pcall(function() while true do end end) end",
        "while true do coroutine.resume(coroutine.create(function() while true do end end)) end",
    ] {
        let mut fake = Fake {
            kill_after: Some(3),
            ..Fake::default()
        };
        let started = Instant::now();
        let out = eval_with(&mut engine, &mut fake, body, &[], &[]);
        assert!(out.killed, "{body}");
        assert_eq!(
            out.reply,
            err(&format!(
                "ERR Script killed by user with SCRIPT KILL... script: {}, on @user_script:1.",
                sha(body)
            )),
            "{body}"
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{body}");
        assert!(fake.busy_calls >= 3);
    }
}

#[test]
fn evalsha_and_load() {
    let mut engine = ScriptEngine::new(EngineConfig::default());
    let mut fake = Fake::default();
    let out = engine.evalsha(
        b"e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
        &[],
        &[],
        &mut fake,
    );
    assert_eq!(out.reply, err(NOSCRIPT));
    assert_eq!(
        engine.load(b"return 1").as_deref(),
        Ok("e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
    );
    let out = engine.evalsha(
        b"E0E1F9FABFC9D4800C877A703B823AC0578FF8DB",
        &[],
        &[],
        &mut fake,
    );
    assert_eq!(out.reply, ScriptReply::Int(1));
    assert!(engine.load(b"return +").is_err());
    engine.flush();
    assert!(!engine.exists(b"e0e1f9fabfc9d4800c877a703b823ac0578ff8db"));
}

#[test]
fn acl_check_and_log() {
    assert_eq!(
        eval("return redis.acl_check_cmd('ping')"),
        ScriptReply::Int(1)
    );
    let body = "return redis.acl_check_cmd('nosuch')";
    assert_eq!(
        eval(body),
        err(&format!(
            "ERR Invalid command passed to redis.acl_check_cmd() script: {}, on @user_script:1.",
            sha(body)
        ))
    );
    assert_eq!(
        eval("return redis.log(redis.LOG_WARNING, 'x')"),
        ScriptReply::Null
    );
    let body = "return redis.log(9, 'x')";
    assert_eq!(
        eval(body),
        err(&format!(
            "ERR Invalid debug level. script: {}, on @user_script:1.",
            sha(body)
        ))
    );
}

#[test]
fn shebang_lines() {
    let body = "#!lua\nerror('x')";
    assert_eq!(
        eval(body),
        err(&format!(
            "ERR user_script:2: x script: {}, on @user_script:2.",
            sha(body)
        ))
    );
    let body = "#!lua flags=no-writes\nreturn redis.call('set','a','b')";
    assert_eq!(
        eval(body),
        err(&format!(
            "ERR Write commands are not allowed from read-only scripts. script: {}, on @user_script:2.",
            sha(body)
        ))
    );
    assert_eq!(
        eval("#!lua flags=bogus\nreturn 1"),
        err("ERR Unexpected flag in script shebang: bogus")
    );
    assert_eq!(
        eval("#!nolua\nreturn 1"),
        err("ERR Unexpected engine in script shebang: #!nolua")
    );
}

#[test]
fn no_run_leaves_anything_for_the_next() {
    let mut engine = ScriptEngine::new(EngineConfig::default());
    let mut fake = Fake::default();
    let mut run = |body: &str| eval_with(&mut engine, &mut fake, body, &[], &[]).reply;
    // Attempts to leave a trap for a later script (another principal's).
    for body in [
        "rawset(string, 'upper', function() return 'trap' end)",
        "rawset(redis, 'call', function() return 'trap' end)",
        "rawset(_G, 'tonumber', function() return 'trap' end)",
        "local mt = getmetatable('') if mt then mt.__index = {upper = function() return 'trap' end} end",
        "return getmetatable(string)",
        "collectgarbage('stop')",
        "coroutine.wrap(function() rawset(math, 'floor', function() return 'trap' end) end)()",
    ] {
        let _ = run(body);
    }
    assert_eq!(
        run("return {string.upper('a'), ('b'):upper(), tonumber('7'), math.floor(1.5), redis.call('ping')}"),
        ScriptReply::Array(vec![
            bulk("A"),
            bulk("B"),
            ScriptReply::Int(7),
            ScriptReply::Int(1),
            ScriptReply::Status(b"PONG".to_vec())
        ])
    );
    assert_eq!(run("return getmetatable('')"), ScriptReply::Null);
    let body = "string.upper = nil";
    assert_eq!(
        run(body),
        err(&format!(
            "ERR user_script:1: Attempt to modify a readonly table script: {}, on @user_script:1.",
            sha(body)
        ))
    );
}
