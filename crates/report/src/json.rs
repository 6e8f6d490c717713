//! The `json` format, schema 1 (SPEC.md §2), and [`parse_json_report`], which
//! reads the fingerprints back for `--baseline`.
//!
//! The output is built from `Serialize` structs, not `serde_json::Value`, so
//! key order is the order SPEC.md shows whatever features serde_json has.

use serde::Serialize;
use serde_json::Value;

use crate::finding::{Finding, Label, Severity};
use crate::report::{Report, Summary};

/// The `schema` number this crate writes and reads.
pub const SCHEMA: u32 = 1;

#[derive(Serialize)]
struct JsonReport<'a> {
    tool: &'static str,
    version: &'static str,
    schema: u32,
    root: &'a str,
    findings: Vec<JsonFinding<'a>>,
    summary: &'a Summary,
}

/// One finding as a JSON object of SPEC.md §2, keys in the order shown
/// there; other reports (`series`) embed it.
#[derive(Serialize)]
pub struct JsonFinding<'a> {
    rule: &'a str,
    severity: Severity,
    file: &'a str,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    function: &'a str,
    message: &'a str,
    trace: Vec<JsonStep<'a>>,
    fingerprint: &'a str,
}

#[derive(Serialize)]
struct JsonStep<'a> {
    file: &'a str,
    line: u32,
    column: u32,
    message: &'a str,
}

impl<'a> JsonFinding<'a> {
    pub fn new(f: &'a Finding) -> Self {
        JsonFinding {
            rule: &f.rule,
            severity: f.severity,
            file: &f.location.file,
            line: f.location.line,
            column: f.location.column,
            end_line: f.location.end_line,
            end_column: f.location.end_column,
            function: &f.function,
            message: &f.message,
            trace: f.trace.iter().map(JsonStep::new).collect(),
            fingerprint: &f.fingerprint,
        }
    }
}

impl<'a> JsonStep<'a> {
    fn new(l: &'a Label) -> Self {
        JsonStep {
            file: &l.location.file,
            line: l.location.line,
            column: l.location.column,
            message: &l.message,
        }
    }
}

pub(crate) fn render(report: &Report) -> String {
    let doc = JsonReport {
        tool: "lockwarden",
        version: crate::VERSION,
        schema: SCHEMA,
        root: &report.root,
        findings: report.findings.iter().map(JsonFinding::new).collect(),
        summary: &report.summary,
    };
    let mut out = serde_json::to_string_pretty(&doc).expect("plain structs serialize");
    out.push('\n');
    out
}

/// Reads a JSON report (`--format json`, schema 1) written by an earlier run
/// and returns its findings' fingerprints, in order.
///
/// Errors are one-line messages meant to follow "baseline FILE: ".
pub fn parse_json_report(text: &str) -> Result<Vec<String>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(obj) = &doc else {
        return Err(format!(
            "expected a lockwarden JSON report (an object from `--format json`), found {}",
            kind(&doc)
        ));
    };
    if let Some(tool) = obj.get("tool") {
        if tool.as_str() != Some("lockwarden") {
            return Err(format!("not a lockwarden report (\"tool\" is {tool})"));
        }
    }
    match obj.get("schema") {
        None => {}
        Some(v) if v.as_u64() == Some(u64::from(SCHEMA)) => {}
        Some(v) => {
            return Err(format!(
                "unsupported report schema {v}; this lockwarden reads schema {SCHEMA}"
            ))
        }
    }
    let findings = match obj.get("findings") {
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(format!(
                "\"findings\" must be an array, found {}",
                kind(other)
            ))
        }
        None => {
            return Err(
                "no \"findings\" array; expected a lockwarden JSON report (`--format json`)".into(),
            )
        }
    };
    findings
        .iter()
        .enumerate()
        .map(|(i, f)| match f.get("fingerprint") {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(format!(
                "finding {} (of {}) has no \"fingerprint\" string",
                i + 1,
                findings.len()
            )),
        })
        .collect()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    #[test]
    fn matches_spec_schema_1() {
        let report = sample_report();
        let out = render(&report);
        assert!(out.ends_with("}\n"));
        let v: Value = serde_json::from_str(&out).unwrap();
        let top: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected_top = ["tool", "version", "schema", "root", "findings", "summary"];
        expected_top.sort_unstable();
        let mut top_sorted = top.clone();
        top_sorted.sort_unstable();
        assert_eq!(top_sorted, expected_top);
        assert_eq!(v["tool"], "lockwarden");
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(v["schema"], 1);
        assert_eq!(v["root"], "/home/dev/linux tree");

        let f = &v["findings"][0];
        let mut keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut expected = [
            "rule",
            "severity",
            "file",
            "line",
            "column",
            "end_line",
            "end_column",
            "function",
            "message",
            "trace",
            "fingerprint",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(f["rule"], "balloon/page-private-needs-lock");
        assert_eq!(f["severity"], "error");
        assert_eq!(f["file"], DRIVER);
        assert_eq!(
            (&f["line"], &f["column"], &f["end_line"], &f["end_column"]),
            (
                &Value::from(13),
                &Value::from(2),
                &Value::from(13),
                &Value::from(29)
            )
        );
        assert_eq!(f["function"], "virtballoon_migratepage");
        assert_eq!(f["fingerprint"], report.findings[0].fingerprint.as_str());
        let step = &f["trace"][0];
        let mut step_keys: Vec<&str> = step
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        step_keys.sort_unstable();
        assert_eq!(step_keys, ["column", "file", "line", "message"]);
        assert_eq!(step["file"], HEADER);
        assert_eq!(
            (&step["line"], &step["column"]),
            (&Value::from(4), &Value::from(3))
        );
        assert_eq!(
            step["message"],
            "page->private written here (set_page_private)"
        );

        assert_eq!(v["findings"][1]["severity"], "warning");
        assert_eq!(v["findings"][1]["line"], 20);

        assert_eq!(
            v["summary"],
            serde_json::json!({"files": 2, "functions": 3, "functions_with_parse_errors": 1,
                               "findings": 2, "elapsed_ms": 12, "incomplete": []})
        );
    }

    #[test]
    fn key_order_is_the_spec_order() {
        let out = render(&sample_report());
        let pos = |k: &str| out.find(&format!("\"{k}\":")).unwrap();
        let order = [
            "tool",
            "version",
            "schema",
            "root",
            "findings",
            "rule",
            "severity",
            "file",
            "line",
            "column",
            "end_line",
            "end_column",
            "function",
            "message",
            "trace",
            "fingerprint",
        ];
        for w in order.windows(2) {
            assert!(pos(w[0]) < pos(w[1]), "{} before {}", w[0], w[1]);
        }
        assert!(out.rfind("\"summary\":").unwrap() > out.rfind("\"fingerprint\":").unwrap());
    }

    #[test]
    fn empty_trace_and_no_findings() {
        let mut report = sample_report();
        report.findings[0].trace.clear();
        report.findings.truncate(1);
        let v: Value = serde_json::from_str(&render(&report)).unwrap();
        assert_eq!(v["findings"][0]["trace"], serde_json::json!([]));
        report.findings.clear();
        let v: Value = serde_json::from_str(&render(&report)).unwrap();
        assert_eq!(v["findings"], serde_json::json!([]));
    }

    #[test]
    fn baseline_round_trip() {
        let report = sample_report();
        let fps = parse_json_report(&render(&report)).unwrap();
        let expected: Vec<String> = report
            .findings
            .iter()
            .map(|f| f.fingerprint.clone())
            .collect();
        assert_eq!(fps, expected);
    }

    #[test]
    fn baseline_errors_are_clear() {
        let err = |t: &str| parse_json_report(t).unwrap_err();
        assert!(err("").starts_with("not valid JSON"), "{}", err(""));
        assert!(err("{\"findings\": [").starts_with("not valid JSON"));
        assert!(err("[]").contains("found an array"), "{}", err("[]"));
        assert!(err("{}").contains("no \"findings\" array"));
        assert!(err("{\"findings\": 3}").contains("must be an array, found a number"));
        assert!(err("{\"schema\": 2, \"findings\": []}").contains("unsupported report schema 2"));
        assert!(err("{\"tool\": \"clippy\", \"findings\": []}").contains("not a lockwarden report"));
        assert_eq!(
            err("{\"findings\": [{\"fingerprint\": \"ab\"}, {\"rule\": \"x\"}]}"),
            "finding 2 (of 2) has no \"fingerprint\" string"
        );
        assert!(err("{\"findings\": [7]}").contains("finding 1"));
        assert_eq!(parse_json_report("{\"findings\": []}"), Ok(vec![]));
    }
}
