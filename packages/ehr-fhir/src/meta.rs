//! Title, date and searchable text of a decrypted record: the rules of the web UI's `metadataOf`
//! / `coerceMeta` (web/src/lib/records.ts), checked against vectors the TypeScript code wrote
//! (`vectors/meta.json`, web/src/lib/metaVectors.test.ts).
//!
//! A decrypted file is whatever its writer sealed, so the plaintext is read as `JSON.parse` reads
//! it (after `TextDecoder`): invalid UTF-8 becomes U+FFFD, a leading BOM is dropped, objects keep
//! JavaScript's key order (array-index keys first, ascending, then insertion order; a repeated
//! key keeps its first place and its last value). The parser is iterative, so nesting of any
//! depth is read like `JSON.parse` does, and only the levels the text walk visits are kept.
//! One difference is left: a lone UTF-16 surrogate escape (`"\ud800"`) becomes U+FFFD, since a
//! Rust string cannot hold it.

use serde::{Deserialize, Serialize};

/// What search and the record lists show of a record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordMeta {
    pub title: String,
    /// yyyy-mm-dd the document is about, or "".
    pub date: String,
    /// Every string of the document (attachment bytes excepted), joined by " • ".
    pub text: String,
}

/// Deeper nesting is not a medical document: its strings are not searched (records.ts MAX_DEPTH).
pub const MAX_DEPTH: usize = 64;

/// Title of a plaintext that is not JSON.
pub const BINARY_TITLE: &str = "(binary file)";

const DATE_FIELDS: [&str; 6] = [
    "effectiveDateTime",
    "date",
    "authoredOn",
    "recordedDate",
    "occurrenceDateTime",
    "issued",
];

const SEPARATOR: &str = " \u{2022} ";

/// A JSON value as `JSON.parse` gives it; containers the text walk never enters are `Skipped`.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
    Skipped,
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Title, date and text of any decrypted record (`metadataOf`).
pub fn meta_of(plaintext: &[u8]) -> RecordMeta {
    let text = String::from_utf8_lossy(plaintext);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    match parse(text) {
        Some(doc) => coerce_meta(&doc),
        None => RecordMeta {
            title: BINARY_TITLE.into(),
            date: String::new(),
            text: String::new(),
        },
    }
}

/// Title, date and text of a parsed document, whatever the types of its fields (`coerceMeta`).
pub fn coerce_meta(doc: &Json) -> RecordMeta {
    let mut strings = Vec::new();
    walk(doc, "", 0, &mut strings);
    let field = |v: Option<&Json>| v.map(as_text).unwrap_or_default();
    let code = doc.get("code").filter(|c| matches!(c, Json::Object(_)));
    let coding = match code.and_then(|c| c.get("coding")) {
        Some(Json::Array(items)) => items.first(),
        _ => None,
    };
    let title = [
        field(code.and_then(|c| c.get("text"))),
        field(coding.and_then(|c| c.get("display"))),
        field(doc.get("title")),
        field(doc.get("description")),
        field(doc.get("resourceType")),
    ]
    .into_iter()
    .find(|t| !t.is_empty())
    .unwrap_or_else(|| "record".into());
    let date = DATE_FIELDS
        .iter()
        .map(|f| doc.get(f).map(as_iso_date).unwrap_or_default())
        .find(|d| !d.is_empty())
        .unwrap_or_default();
    RecordMeta {
        title,
        date,
        text: strings.join(SEPARATOR),
    }
}

fn walk<'a>(v: &'a Json, key: &str, depth: usize, out: &mut Vec<&'a str>) {
    match v {
        // Attachment bytes are not text.
        Json::String(s) if key != "data" => out.push(s),
        _ if depth >= MAX_DEPTH => {}
        Json::Array(items) => items.iter().for_each(|x| walk(x, "", depth + 1, out)),
        Json::Object(entries) => entries.iter().for_each(|(k, x)| walk(x, k, depth + 1, out)),
        _ => {}
    }
}

/// A field where a string is expected (`asText`): strings as they are, finite numbers and
/// booleans as JavaScript's `String()` writes them, anything else "".
pub fn as_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Number(n) if n.is_finite() => js_number(*n),
        Json::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// The yyyy-mm-dd a FHIR date or dateTime starts with when it is a real calendar date (`asIsoDate`).
pub fn as_iso_date(v: &Json) -> String {
    let Json::String(s) = v else {
        return String::new();
    };
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .filter(|d| d.iter().all(u8::is_ascii_digit))
            .and_then(|_| s.get(r))
            .and_then(|d| d.parse::<u32>().ok())
    };
    let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return String::new();
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), None | Some(b'T'))
    {
        return String::new();
    }
    // Date.UTC reads years 0..=99 as 1900..=1999, so the UI's check refuses them.
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    if y < 100 || d == 0 || d > days {
        return String::new();
    }
    s[..10].to_string()
}

/// A finite number as JavaScript's `Number.prototype.toString()` writes it (ECMA-262
/// Number::toString): the shortest round-trip digits, plain up to 21 integer digits, else exponent.
pub fn js_number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if v < 0.0 {
        return format!("-{}", js_number(-v));
    }
    // `{:e}` gives the shortest round-trip digits: "1.35e1".
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = digits.len() as i64;
    let n = exp.parse::<i64>().unwrap_or(0) + 1;
    if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let sign = if e < 0 { '-' } else { '+' };
        match digits.split_at(1) {
            (first, "") => format!("{first}e{sign}{}", e.abs()),
            (first, rest) => format!("{first}.{rest}e{sign}{}", e.abs()),
        }
    }
}

/// Parses JSON text as `JSON.parse` does; `None` where it would throw. Containers at depth
/// `MAX_DEPTH` and deeper are checked but not kept.
pub fn parse(text: &str) -> Option<Json> {
    Parser {
        s: text.as_bytes(),
        text,
        at: 0,
    }
    .document()
}

enum Frame {
    Array(Vec<Json>),
    Object(Vec<(String, Json)>, String),
    /// A container the walk never enters: only checked.
    Skipped {
        object: bool,
    },
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek() == Some(c)).then(|| self.at += 1)
    }

    fn document(mut self) -> Option<Json> {
        let mut stack: Vec<Frame> = Vec::new();
        'value: loop {
            self.ws();
            let mut value = match self.peek()? {
                open @ (b'[' | b'{') => {
                    self.at += 1;
                    let object = open == b'{';
                    let close = if object { b'}' } else { b']' };
                    if self.eat(close).is_some() {
                        match (stack.len() >= MAX_DEPTH, object) {
                            (true, _) => Json::Skipped,
                            (false, true) => Json::Object(vec![]),
                            (false, false) => Json::Array(vec![]),
                        }
                    } else {
                        let frame = match (stack.len() >= MAX_DEPTH, object) {
                            (true, object) => Frame::Skipped { object },
                            (false, true) => Frame::Object(vec![], String::new()),
                            (false, false) => Frame::Array(vec![]),
                        };
                        stack.push(frame);
                        if object {
                            let key = self.key()?;
                            if let Some(Frame::Object(_, pending)) = stack.last_mut() {
                                *pending = key;
                            }
                        }
                        continue 'value;
                    }
                }
                b'"' => Json::String(self.string()?),
                b't' => self.literal("true", Json::Bool(true))?,
                b'f' => self.literal("false", Json::Bool(false))?,
                b'n' => self.literal("null", Json::Null)?,
                _ => Json::Number(self.number()?),
            };
            // A whole value: hand it to its container, closing those that end here.
            loop {
                let Some(frame) = stack.last_mut() else {
                    self.ws();
                    return (self.at == self.s.len()).then_some(value);
                };
                let object = match frame {
                    Frame::Array(items) => {
                        items.push(value);
                        false
                    }
                    Frame::Object(entries, key) => {
                        insert(entries, std::mem::take(key), value);
                        true
                    }
                    Frame::Skipped { object } => *object,
                };
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.at += 1;
                        if object {
                            let key = self.key()?;
                            if let Some(Frame::Object(_, pending)) = stack.last_mut() {
                                *pending = key;
                            }
                        }
                        continue 'value;
                    }
                    b']' if !object => {}
                    b'}' if object => {}
                    _ => return None,
                }
                self.at += 1;
                value = match stack.pop()? {
                    Frame::Array(items) => Json::Array(items),
                    Frame::Object(entries, _) => Json::Object(js_key_order(entries)),
                    Frame::Skipped { .. } => Json::Skipped,
                };
            }
        }
    }

    /// `"key" :`
    fn key(&mut self) -> Option<String> {
        self.ws();
        if self.peek() != Some(b'"') {
            return None;
        }
        let key = self.string()?;
        self.eat(b':')?;
        Some(key)
    }

    fn literal(&mut self, word: &str, value: Json) -> Option<Json> {
        let end = self.at + word.len();
        (self.s.get(self.at..end)? == word.as_bytes()).then(|| {
            self.at = end;
            value
        })
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, rounded to the nearest f64 (as JS does;
    /// too large is infinity, which `asText` then ignores).
    fn number(&mut self) -> Option<f64> {
        let start = self.at;
        let digits = |p: &mut Self| {
            let from = p.at;
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.at += 1;
            }
            p.at > from
        };
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => {
                digits(self);
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if !digits(self) {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        self.text.get(start..self.at)?.parse().ok()
    }

    fn string(&mut self) -> Option<String> {
        self.at += 1; // the opening quote
        let mut out = String::new();
        loop {
            let rest = self.text.get(self.at..)?;
            let run = rest
                .bytes()
                .position(|c| c == b'"' || c == b'\\' || c < 0x20)?;
            out.push_str(rest.get(..run)?);
            self.at += run;
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Some(out);
                }
                b'\\' => {
                    self.at += 1;
                    let c = self.peek()?;
                    self.at += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode_escape()?),
                        _ => return None,
                    }
                }
                _ => return None, // a control character
            }
        }
    }

    /// After `\u`: a BMP character, a surrogate pair, or U+FFFD for a lone surrogate.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) && self.s.get(self.at..self.at + 2) == Some(b"\\u") {
            let save = self.at;
            self.at += 2;
            let second = self.hex4()?;
            if (0xDC00..0xE000).contains(&second) {
                let c = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                return Some(char::from_u32(c).unwrap_or('\u{fffd}'));
            }
            self.at = save;
        }
        Some(char::from_u32(first).unwrap_or('\u{fffd}'))
    }

    fn hex4(&mut self) -> Option<u32> {
        let hex = self.text.get(self.at..self.at + 4)?;
        if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        self.at += 4;
        u32::from_str_radix(hex, 16).ok()
    }
}

/// `JSON.parse` defines properties one by one: a repeated key keeps its first place and takes
/// the last value.
fn insert(entries: &mut Vec<(String, Json)>, key: String, value: Json) {
    match entries.iter_mut().find(|(k, _)| *k == key) {
        Some((_, slot)) => *slot = value,
        None => entries.push((key, value)),
    }
}

/// JavaScript's own-property order: array-index keys ascending, then the others as inserted.
fn js_key_order(mut entries: Vec<(String, Json)>) -> Vec<(String, Json)> {
    if entries.iter().any(|(k, _)| array_index(k).is_some()) {
        // Stable: non-index keys keep their insertion order.
        entries.sort_by_key(|(k, _)| array_index(k).map_or((1, 0), |i| (0, i)));
    }
    entries
}

/// A canonical array index: "0", or digits without a leading zero, below 2^32 - 1.
fn array_index(key: &str) -> Option<u32> {
    if key.is_empty() || (key.len() > 1 && key.starts_with('0')) {
        return None;
    }
    if !key.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    key.parse::<u32>().ok().filter(|&i| i != u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[derive(Deserialize)]
    struct Vector {
        name: String,
        plaintext_base64: String,
        meta: RecordMeta,
    }

    #[test]
    fn agrees_with_the_web_ui_on_every_shared_vector() {
        let vectors: Vec<Vector> =
            serde_json::from_str(include_str!("../vectors/meta.json")).unwrap();
        assert!(vectors.len() >= 15);
        for v in vectors {
            let plaintext = base64::engine::general_purpose::STANDARD
                .decode(&v.plaintext_base64)
                .unwrap();
            assert_eq!(meta_of(&plaintext), v.meta, "vector {:?}", v.name);
        }
    }

    #[test]
    fn numbers_as_javascript_writes_them() {
        for (v, js) in [
            (13.5, "13.5"),
            (1.0, "1"),
            (-0.0, "0"),
            (1e21, "1e+21"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (-2.5e-10, "-2.5e-10"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (0.1 + 0.2, "0.30000000000000004"),
        ] {
            assert_eq!(js_number(v), js, "{v}");
        }
    }

    #[test]
    fn dates_must_be_real_calendar_days() {
        let date = |s: &str| as_iso_date(&Json::String(s.into()));
        assert_eq!(date("2024-02-29T10:00:00Z"), "2024-02-29");
        assert_eq!(date("2000-02-29"), "2000-02-29");
        for bad in [
            "1900-02-29",
            "2026-02-30",
            "2026-13-01",
            "2026-00-10",
            "0099-01-01",
            "2026-01-02garbage",
            "2026-1-02",
            "٢٠٢٦-01-02",
            "",
        ] {
            assert_eq!(date(bad), "", "{bad}");
        }
        assert_eq!(as_iso_date(&Json::Number(20260102.0)), "");
    }

    #[test]
    fn invalid_json_is_refused_like_json_parse() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            ".5",
            "+1",
            "\"\t\"",
            "[1] 2",
            "nul",
            "{'a':1}",
            "\"\\x\"",
            "\"\\u12\"",
            "[1}",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        assert_eq!(meta_of(b"not json").title, BINARY_TITLE);
        assert_eq!(parse(" [1, -0.5e2, true] "), {
            Some(Json::Array(vec![
                Json::Number(1.0),
                Json::Number(-50.0),
                Json::Bool(true),
            ]))
        });
    }

    #[test]
    fn object_keys_in_javascript_order_and_last_value_wins() {
        let doc = parse(r#"{"b":"1","2":"x","a":"2","1":"y","b":"3","01":"z"}"#).unwrap();
        assert_eq!(
            coerce_meta(&doc).text,
            "y \u{2022} x \u{2022} 3 \u{2022} 2 \u{2022} z"
        );
    }

    #[test]
    fn nesting_of_any_depth_is_read_and_not_walked_past_the_cap() {
        let deep = format!(
            "{{\"code\":{{\"text\":\"Deep\"}},\"note\":{}\"bottom\"{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let meta = meta_of(deep.as_bytes());
        assert_eq!(meta.title, "Deep");
        assert_eq!(meta.text, "Deep");
        let unbalanced = format!("{}1{}", "[".repeat(100_000), "]".repeat(99_999));
        assert_eq!(parse(&unbalanced), None);
    }
}
