//! The colour edge plugin in Rust: the same behaviour as the Go plugin
//! (wasm-plugins/colour) for the same config, proven by the shared table
//! wasm-plugins/colour/testdata/cases.json. It shows that the plugin ABI is
//! not Go's: any language that can import http_handler's functions and
//! export handle_request writes plugins.
//!
//! No crates: raw imports of the http_handler ABI (see ../ABI.md), a small
//! JSON reader for the config, FNV-1a for cells. Built with Debian's rustc:
//!
//!     /usr/bin/rustc src/lib.rs --target wasm32-wasi --crate-type cdylib -O ...
//!
//! (see build.sh for the full flags).

use std::collections::BTreeMap;

#[link(wasm_import_module = "http_handler")]
extern "C" {
    fn log(level: i32, buf: *const u8, len: u32);
    fn get_config(buf: *mut u8, limit: u32) -> u32;
    fn get_uri(buf: *mut u8, limit: u32) -> u32;
    fn get_header_values(kind: u32, name: *const u8, name_len: u32, buf: *mut u8, limit: u32) -> u64;
    fn set_header_value(kind: u32, name: *const u8, name_len: u32, value: *const u8, value_len: u32);
    fn remove_header(kind: u32, name: *const u8, name_len: u32);
}

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn random_get(buf: *mut u8, len: u32) -> i32;
}

const REQUEST: u32 = 0;
const RESPONSE: u32 = 1;

const REQUEST_ID: &str = "X-Request-Id";
const TRAFFIC_TAG: &str = "X-Traffic-Tag";
const CELL: &str = "X-Cell-ID";
const USER: &str = "X-Tremolo-User-Id";
const MAX_REQUEST_ID_LEN: usize = 128;
const MAX_TAG_LEN: usize = 64;
const MAX_CELLS: u64 = 1 << 16;

struct Config {
    tag_query: String,
    tag_cookie: String,
    tags: Vec<String>,
    cells: u64,
    echo_request_id: bool,
}

struct Plugin {
    cfg: Config,
    prefix: String,
    counter: u64,
}

static mut PLUGIN: Option<Result<Plugin, String>> = None;

fn plugin() -> &'static mut Plugin {
    // A wasm instance runs one request at a time, so this static is ours.
    let slot = unsafe { &mut PLUGIN };
    if slot.is_none() {
        *slot = Some(init());
    }
    match slot {
        Some(Ok(p)) => p,
        Some(Err(msg)) => {
            host_log(2, &format!("plugin initialisation failed: {}", msg));
            std::process::abort();
        }
        None => unreachable!(),
    }
}

/// Runs when the host initialises the module (wazero runs the start
/// function _initialize when asked to; Tremolo's host does), so that a bad
/// config fails loading the plugin, as in the Go plugins. Hosts that do not
/// call it get the same check on the first request.
#[no_mangle]
pub extern "C" fn _initialize() {
    let _ = plugin();
}

fn init() -> Result<Plugin, String> {
    let raw = read_with(|buf, limit| unsafe { get_config(buf, limit) });
    let cfg = parse_config(&raw)?;
    let mut r = [0u8; 8];
    unsafe { random_get(r.as_mut_ptr(), 8) };
    let mut prefix = String::with_capacity(17);
    for b in r.iter() {
        prefix.push_str(&format!("{:02x}", b));
    }
    prefix.push('-');
    Ok(Plugin { cfg, prefix, counter: 0 })
}

fn field_error(field: &str, msg: String) -> String {
    format!("config field {}: {}", field, msg)
}

fn parse_config(raw: &[u8]) -> Result<Config, String> {
    let mut cfg = Config { tag_query: String::new(), tag_cookie: String::new(), tags: Vec::new(), cells: 0, echo_request_id: true };
    if raw.iter().all(|c| c.is_ascii_whitespace()) {
        return Ok(cfg);
    }
    let text = std::str::from_utf8(raw).map_err(|_| "config: not UTF-8".to_string())?;
    let mut p = Json { s: text.as_bytes(), i: 0 };
    let v = p.value(0).map_err(|e| format!("config: not valid JSON at byte {}: {}", p.i, e))?;
    p.ws();
    if p.i != p.s.len() {
        return Err("config: unexpected data after the JSON object".to_string());
    }
    let obj = match v {
        Value::Object(o) => o,
        _ => return Err("config field (top level): want an object".to_string()),
    };
    for (k, v) in obj {
        match (k.as_str(), v) {
            ("tag_query", Value::Str(s)) => cfg.tag_query = s,
            ("tag_cookie", Value::Str(s)) => cfg.tag_cookie = s,
            ("tags", Value::Array(a)) => {
                for (i, t) in a.into_iter().enumerate() {
                    match t {
                        Value::Str(s) => cfg.tags.push(s),
                        _ => return Err(field_error(&format!("tags[{}]", i), "want a string".to_string())),
                    }
                }
            }
            ("tags", Value::Null) => {}
            ("cells", Value::Num(n)) => {
                if n.fract() != 0.0 || n < 0.0 || n > MAX_CELLS as f64 {
                    return Err(field_error("cells", format!("{} is not between 0 and {}", n, MAX_CELLS)));
                }
                cfg.cells = n as u64;
            }
            ("echo_request_id", Value::Bool(b)) => cfg.echo_request_id = b,
            ("tag_query", _) | ("tag_cookie", _) => return Err(field_error(&k, "want a string".to_string())),
            ("tags", _) => return Err(field_error(&k, "want an array".to_string())),
            ("cells", _) => return Err(field_error(&k, "want a number".to_string())),
            ("echo_request_id", _) => return Err(field_error(&k, "want true or false".to_string())),
            _ => return Err(format!("config: unknown field \"{}\"", k)),
        }
    }
    if !cfg.tag_query.is_empty() && !valid_tag(&cfg.tag_query) {
        return Err(field_error("tag_query", format!("{:?} is not a valid parameter name", cfg.tag_query)));
    }
    if !cfg.tag_cookie.is_empty() && !valid_tag(&cfg.tag_cookie) {
        return Err(field_error("tag_cookie", format!("{:?} is not a valid cookie name", cfg.tag_cookie)));
    }
    for (i, t) in cfg.tags.iter().enumerate() {
        if !valid_tag(t) {
            return Err(field_error(&format!("tags[{}]", i), format!("{:?} is not a valid tag", t)));
        }
    }
    Ok(cfg)
}

#[no_mangle]
pub extern "C" fn handle_request() -> i64 {
    let p = plugin();
    let id = match header(REQUEST, REQUEST_ID) {
        Some(v) if valid_request_id(&v) => v,
        _ => {
            p.counter += 1;
            let id = format!("{}{:x}", p.prefix, p.counter);
            set_header(REQUEST, REQUEST_ID, id.as_bytes());
            id.into_bytes()
        }
    };
    if p.cfg.echo_request_id {
        set_header(RESPONSE, REQUEST_ID, &id);
    }
    tag(&p.cfg);
    if p.cfg.cells > 0 {
        cell(p.cfg.cells);
    }
    1 // ctx 0, next 1
}

#[no_mangle]
pub extern "C" fn handle_response(_ctx: i32, _is_error: i32) {}

fn allowed(cfg: &Config, t: &[u8]) -> bool {
    valid_tag_bytes(t) && (cfg.tags.is_empty() || cfg.tags.iter().any(|a| a.as_bytes() == t))
}

fn tag(cfg: &Config) {
    if let Some(t) = header(REQUEST, TRAFFIC_TAG) {
        if allowed(cfg, &t) {
            return;
        }
        unsafe { remove_header(REQUEST, TRAFFIC_TAG.as_ptr(), TRAFFIC_TAG.len() as u32) };
    }
    if !cfg.tag_query.is_empty() {
        let uri = read_with(|buf, limit| unsafe { get_uri(buf, limit) });
        let query = match uri.iter().position(|&c| c == b'?') {
            Some(i) => &uri[i + 1..],
            None => &uri[..0],
        };
        if let Some(t) = query_value(query, cfg.tag_query.as_bytes()) {
            if allowed(cfg, &t) {
                set_header(REQUEST, TRAFFIC_TAG, &t);
                return;
            }
        }
    }
    if !cfg.tag_cookie.is_empty() {
        for h in header_values(REQUEST, "Cookie") {
            if let Some(t) = cookie_value(&h, cfg.tag_cookie.as_bytes()) {
                if allowed(cfg, t) {
                    set_header(REQUEST, TRAFFIC_TAG, t);
                }
                return;
            }
        }
    }
}

fn cell(cells: u64) {
    if let Some(uid) = header(REQUEST, USER) {
        if valid_user_id(&uid) {
            let c = (fnv1a(&uid) % cells).to_string();
            set_header(REQUEST, CELL, c.as_bytes());
            return;
        }
    }
    if let Some(c) = header(REQUEST, CELL) {
        match canonical_uint(&c) {
            Some(n) if n < cells => {}
            _ => unsafe { remove_header(REQUEST, CELL.as_ptr(), CELL.len() as u32) },
        }
    }
}

/// FNV-1a, 64 bits, finalised with MurmurHash3's fmix64: the hash of
/// colour.Cell.
fn fnv1a(s: &[u8]) -> u64 {
    let mut h: u64 = 14695981039346656037;
    for &c in s {
        h ^= c as u64;
        h = h.wrapping_mul(1099511628211);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    h
}

fn canonical_uint(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 9 || (s.len() > 1 && s[0] == b'0') {
        return None;
    }
    let mut n = 0u64;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as u64;
    }
    Some(n)
}

fn valid_user_id(s: &[u8]) -> bool {
    !s.is_empty() && s.len() <= 19 && s.iter().all(|c| c.is_ascii_digit())
}

fn valid_request_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id.iter().all(|&c| c > b' ' && c <= b'~' && c != b'"' && c != b'\\' && c != b'\'')
}

fn valid_tag(t: &str) -> bool {
    valid_tag_bytes(t.as_bytes())
}

fn valid_tag_bytes(t: &[u8]) -> bool {
    !t.is_empty() && t.len() <= MAX_TAG_LEN && t.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c == b'-')
}

/// sdk.QueryValue: the first value of name, decoded; pairs with a bad
/// escape are skipped.
fn query_value(query: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    for pair in query.split(|&c| c == b'&') {
        let (key, value) = match pair.iter().position(|&c| c == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        if key != name {
            match unescape(key) {
                Some(k) if k == name => {}
                _ => continue,
            }
        }
        if let Some(v) = unescape(value) {
            return Some(v);
        }
    }
    None
}

fn unescape(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                if i + 2 >= s.len() {
                    return None;
                }
                let (h, l) = (unhex(s[i + 1])?, unhex(s[i + 2])?);
                out.push(h << 4 | l);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

fn unhex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// sdk.CookieValue: name's value in one Cookie header, unquoted.
fn cookie_value<'a>(header: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    for part in header.split(|&c| c == b';') {
        let part = trim_ows(part);
        let i = match part.iter().position(|&c| c == b'=') {
            Some(i) => i,
            None => continue,
        };
        if &part[..i] != name {
            continue;
        }
        let mut v = &part[i + 1..];
        if v.len() >= 2 && v[0] == b'"' && v[v.len() - 1] == b'"' {
            v = &v[1..v.len() - 1];
        }
        return Some(v);
    }
    None
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

// Host access.

fn host_log(level: i32, msg: &str) {
    unsafe { log(level, msg.as_ptr(), msg.len() as u32) };
}

/// Reads a value from a (buf, limit) -> len import, retrying with the
/// length the host asks for.
fn read_with(get: impl Fn(*mut u8, u32) -> u32) -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    let n = get(buf.as_mut_ptr(), buf.len() as u32) as usize;
    if n > buf.len() {
        buf = vec![0u8; n];
        get(buf.as_mut_ptr(), n as u32);
    }
    buf.truncate(n);
    buf
}

/// The NUL-terminated values of header name, and how many there are.
fn raw_values(kind: u32, name: &str) -> (Vec<u8>, u32) {
    let mut buf = vec![0u8; 256];
    let mut r = unsafe { get_header_values(kind, name.as_ptr(), name.len() as u32, buf.as_mut_ptr(), buf.len() as u32) };
    let n = (r & 0xffff_ffff) as usize;
    if n > buf.len() {
        buf = vec![0u8; n];
        r = unsafe { get_header_values(kind, name.as_ptr(), name.len() as u32, buf.as_mut_ptr(), n as u32) };
    }
    buf.truncate((r & 0xffff_ffff) as usize);
    (buf, (r >> 32) as u32)
}

fn header(kind: u32, name: &str) -> Option<Vec<u8>> {
    let (mut vals, count) = raw_values(kind, name);
    if count == 0 {
        return None;
    }
    if let Some(i) = vals.iter().position(|&c| c == 0) {
        vals.truncate(i);
    }
    Some(vals)
}

fn header_values(kind: u32, name: &str) -> Vec<Vec<u8>> {
    let (vals, count) = raw_values(kind, name);
    if count == 0 {
        return Vec::new();
    }
    let body = match vals.last() {
        Some(0) => &vals[..vals.len() - 1],
        _ => &vals[..],
    };
    body.split(|&c| c == 0).map(|v| v.to_vec()).collect()
}

fn set_header(kind: u32, name: &str, value: &[u8]) {
    unsafe { set_header_value(kind, name.as_ptr(), name.len() as u32, value.as_ptr(), value.len() as u32) };
}

// A JSON reader, enough for the config.

enum Value {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Array(Vec<Value>),
    Object(BTreeMap<String, Value>),
}

struct Json<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Json<'a> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn lit(&mut self, word: &str, v: Value) -> Result<Value, &'static str> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err("unexpected character")
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, &'static str> {
        if depth > 32 {
            return Err("nested too deeply");
        }
        self.ws();
        match self.s.get(self.i) {
            None => Err("unexpected end"),
            Some(b'n') => self.lit("null", Value::Null),
            Some(b't') => self.lit("true", Value::Bool(true)),
            Some(b'f') => self.lit("false", Value::Bool(false)),
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Value::Array(a));
                }
                loop {
                    a.push(self.value(depth + 1)?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Array(a));
                        }
                        _ => return Err("want ',' or ']'"),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut o = BTreeMap::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Value::Object(o));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return Err("want a string key");
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.s.get(self.i) != Some(&b':') {
                        return Err("want ':'");
                    }
                    self.i += 1;
                    let v = self.value(depth + 1)?;
                    o.insert(k, v);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Object(o));
                        }
                        _ => return Err("want ',' or '}'"),
                    }
                }
            }
            Some(_) => {
                let start = self.i;
                while self.i < self.s.len() && matches!(self.s[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.s[start..self.i]).map_err(|_| "bad number")?;
                t.parse::<f64>().map(Value::Num).map_err(|_| "bad number")
            }
        }
    }

    fn string(&mut self) -> Result<String, &'static str> {
        self.i += 1; // the quote
        let mut out = String::new();
        loop {
            let c = *self.s.get(self.i).ok_or("unterminated string")?;
            self.i += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let e = *self.s.get(self.i).ok_or("unterminated string")?;
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hex = self.s.get(self.i..self.i + 4).ok_or("bad escape")?;
                            let h = std::str::from_utf8(hex).map_err(|_| "bad escape")?;
                            let code = u32::from_str_radix(h, 16).map_err(|_| "bad escape")?;
                            self.i += 4;
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        _ => return Err("bad escape"),
                    }
                }
                c if c < 0x20 => return Err("control character in string"),
                _ => {
                    // Copy a run of plain UTF-8 (the input is a str).
                    let start = self.i - 1;
                    while self.i < self.s.len() && self.s[self.i] != b'"' && self.s[self.i] != b'\\' && self.s[self.i] >= 0x20 {
                        self.i += 1;
                    }
                    out.push_str(std::str::from_utf8(&self.s[start..self.i]).map_err(|_| "not UTF-8")?);
                }
            }
        }
    }
}
