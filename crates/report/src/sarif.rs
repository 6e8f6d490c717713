//! The `sarif` format: SARIF 2.1.0 with one run, for GitHub code scanning and
//! other SARIF consumers.
//!
//! Paths are relative URIs against `%SRCROOT%`, which `originalUriBaseIds`
//! maps to `file:///<root>/`. Regions use our 1-based byte columns (identical
//! to SARIF's default UTF-16 columns on ASCII source, which kernel C is);
//! `endColumn` is exclusive as in SARIF. Labels become `relatedLocations`, the
//! trace becomes one `codeFlow`, and the fingerprint is the partial
//! fingerprint `lockwarden/v1`. The driver's `informationUri` and each
//! rule's `helpUri` point at lockwarden's documentation (see
//! [`documentation_uri`] for why that is a file of the repository); each
//! rule has a `fullDescription` (its documentation, else its summary). Rules
//! that findings use but the caller did not describe are added to
//! `tool.driver.rules` with their id only, so every `ruleIndex` is valid.

use std::collections::HashMap;

use serde::Serialize;

use crate::finding::{Finding, Label, Location, Severity};
use crate::report::{Report, RuleInfo};
use crate::uri::{documentation_uri, file_uri, percent_encode};

const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const SRCROOT: &str = "%SRCROOT%";

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool<'a>,
    original_uri_base_ids: BaseIds,
    results: Vec<SarifResult<'a>>,
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'static str,
    version: &'static str,
    information_uri: String,
    rules: Vec<Rule<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    short_description: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    full_description: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<&'a str>,
    default_configuration: Configuration,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct Text<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct BaseIds {
    #[serde(rename = "%SRCROOT%")]
    srcroot: Uri,
}

#[derive(Serialize)]
struct Uri {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    rule_index: usize,
    level: &'static str,
    message: Text<'a>,
    locations: [SarifLocation<'a>; 1],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<SarifLocation<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    code_flows: Vec<CodeFlow<'a>>,
    partial_fingerprints: PartialFingerprints<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Text<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    uri_base_id: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    start_column: u32,
    end_line: u32,
    end_column: u32,
}

#[derive(Serialize)]
struct LogicalLocation<'a> {
    name: &'a str,
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CodeFlow<'a> {
    thread_flows: [ThreadFlow<'a>; 1],
}

#[derive(Serialize)]
struct ThreadFlow<'a> {
    locations: Vec<ThreadFlowLocation<'a>>,
}

#[derive(Serialize)]
struct ThreadFlowLocation<'a> {
    location: SarifLocation<'a>,
}

#[derive(Serialize)]
struct PartialFingerprints<'a> {
    #[serde(rename = "lockwarden/v1")]
    v1: &'a str,
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

fn physical(loc: &Location) -> PhysicalLocation {
    PhysicalLocation {
        artifact_location: ArtifactLocation {
            uri: percent_encode(&loc.file, false),
            uri_base_id: SRCROOT,
        },
        region: Region {
            start_line: loc.line,
            start_column: loc.column,
            end_line: loc.end_line,
            end_column: loc.end_column,
        },
    }
}

fn labelled(label: &Label, id: Option<usize>) -> SarifLocation<'_> {
    SarifLocation {
        id,
        physical_location: physical(&label.location),
        logical_locations: Vec::new(),
        message: Some(Text {
            text: &label.message,
        }),
    }
}

fn result<'a>(f: &'a Finding, rule_index: usize) -> SarifResult<'a> {
    let logical_locations = if f.function.is_empty() {
        Vec::new()
    } else {
        vec![LogicalLocation {
            name: &f.function,
            kind: "function",
        }]
    };
    let code_flows = if f.trace.is_empty() {
        Vec::new()
    } else {
        vec![CodeFlow {
            thread_flows: [ThreadFlow {
                locations: f
                    .trace
                    .iter()
                    .map(|step| ThreadFlowLocation {
                        location: labelled(step, None),
                    })
                    .collect(),
            }],
        }]
    };
    SarifResult {
        rule_id: &f.rule,
        rule_index,
        level: level(f.severity),
        message: Text { text: &f.message },
        locations: [SarifLocation {
            id: None,
            physical_location: physical(&f.location),
            logical_locations,
            message: None,
        }],
        related_locations: f
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| labelled(l, Some(i + 1)))
            .collect(),
        code_flows,
        partial_fingerprints: PartialFingerprints { v1: &f.fingerprint },
    }
}

pub(crate) fn render(report: &Report, rules: &[RuleInfo]) -> String {
    let mut descriptors: Vec<Rule<'_>> = rules
        .iter()
        .map(|r| Rule {
            id: &r.id,
            short_description: Some(Text { text: &r.summary }),
            full_description: Some(Text {
                text: r.doc.as_deref().map_or(&r.summary, str::trim_end),
            }),
            help: r.help.as_deref().map(|text| Text { text }),
            help_uri: r.help_uri.as_deref(),
            default_configuration: Configuration {
                level: level(r.severity),
            },
        })
        .collect();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, r) in rules.iter().enumerate() {
        index.entry(r.id.as_str()).or_insert(i);
    }
    let mut results = Vec::with_capacity(report.findings.len());
    for f in &report.findings {
        let next = descriptors.len();
        let i = *index.entry(f.rule.as_str()).or_insert(next);
        if i == next {
            descriptors.push(Rule {
                id: &f.rule,
                short_description: None,
                full_description: None,
                help: None,
                help_uri: None,
                default_configuration: Configuration {
                    level: level(f.severity),
                },
            });
        }
        results.push(result(f, i));
    }
    let log = Log {
        schema: SCHEMA_URI,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "lockwarden",
                    version: crate::VERSION,
                    information_uri: documentation_uri("README.md"),
                    rules: descriptors,
                },
            },
            original_uri_base_ids: BaseIds {
                srcroot: Uri {
                    uri: file_uri(std::path::Path::new(&report.root), true),
                },
            },
            results,
        }],
    };
    let mut out = serde_json::to_string_pretty(&log).expect("plain structs serialize");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;
    use serde_json::{json, Value};

    fn sarif() -> Value {
        serde_json::from_str(&render(&sample_report(), &sample_rules())).unwrap()
    }

    #[test]
    fn has_the_required_top_level_keys() {
        let v = sarif();
        assert_eq!(v["$schema"], SCHEMA_URI);
        assert_eq!(v["version"], "2.1.0");
        assert_eq!(v["runs"].as_array().unwrap().len(), 1);
        let run = &v["runs"][0];
        let driver = &run["tool"]["driver"];
        assert_eq!(driver["name"], "lockwarden");
        assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(driver["informationUri"], documentation_uri("README.md"));
        assert_eq!(
            run["originalUriBaseIds"],
            json!({"%SRCROOT%": {"uri": "file:///home/dev/linux%20tree/"}})
        );
        assert_eq!(run["results"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn rules_table_from_rule_infos_plus_unknown_rules() {
        let v = sarif();
        let rules = &v["runs"][0]["tool"]["driver"]["rules"];
        assert_eq!(
            rules[0],
            json!({
                "id": "balloon/page-private-needs-lock",
                "shortDescription": {"text": "page->private of a balloon page changes only under the balloon pages lock"},
                "fullDescription": {"text": "Balloon pages keep their state in page->private."},
                "help": {"text": "hold balloon_pages_lock (or b_dev_info->pages_lock) around the write"},
                "helpUri": "file:///src/lockwarden/rules/balloon.toml",
                "defaultConfiguration": {"level": "error"},
            })
        );
        // No documentation: the summary is the full description too.
        assert_eq!(
            rules[1],
            json!({
                "id": "lock/inconsistent-exit",
                "shortDescription": {"text": "a function returns with a lock held on some paths only"},
                "fullDescription": {"text": "a function returns with a lock held on some paths only"},
                "defaultConfiguration": {"level": "warning"},
            })
        );
        // Not described by the caller: added so that ruleIndex stays valid.
        assert_eq!(
            rules[2],
            json!({"id": "lock/double-acquire", "defaultConfiguration": {"level": "warning"}})
        );
        assert_eq!(rules.as_array().unwrap().len(), 3);
        let results = &v["runs"][0]["results"];
        assert_eq!(results[0]["ruleIndex"], 0);
        assert_eq!(results[1]["ruleIndex"], 2);
    }

    #[test]
    fn result_fields() {
        let report = sample_report();
        let v = sarif();
        let r = &v["runs"][0]["results"][0];
        assert_eq!(r["ruleId"], "balloon/page-private-needs-lock");
        assert_eq!(r["level"], "error");
        assert_eq!(r["message"]["text"], report.findings[0].message);
        assert_eq!(
            r["locations"][0],
            json!({
                "physicalLocation": {
                    "artifactLocation": {"uri": DRIVER, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": 13, "startColumn": 2, "endLine": 13, "endColumn": 29},
                },
                "logicalLocations": [{"name": "virtballoon_migratepage", "kind": "function"}],
            })
        );
        assert_eq!(
            r["relatedLocations"],
            json!([{
                "id": 1,
                "physicalLocation": {
                    "artifactLocation": {"uri": DRIVER, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": 12, "startColumn": 2, "endLine": 12, "endColumn": 57},
                },
                "message": {"text": "balloon pages lock released here"},
            }])
        );
        assert_eq!(
            r["codeFlows"],
            json!([{"threadFlows": [{"locations": [{"location": {
                "physicalLocation": {
                    "artifactLocation": {"uri": HEADER, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": 4, "startColumn": 3, "endLine": 4, "endColumn": 28},
                },
                "message": {"text": "page->private written here (set_page_private)"},
            }}]}]}])
        );
        assert_eq!(
            r["partialFingerprints"],
            json!({"lockwarden/v1": report.findings[0].fingerprint})
        );
    }

    #[test]
    fn empty_labels_and_trace_are_omitted() {
        let mut report = sample_report();
        report.findings.truncate(1);
        report.findings[0].labels.clear();
        report.findings[0].trace.clear();
        report.findings[0].function.clear();
        let v: Value = serde_json::from_str(&render(&report, &[])).unwrap();
        let r = &v["runs"][0]["results"][0];
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert!(!keys.contains(&"relatedLocations"), "{keys:?}");
        assert!(!keys.contains(&"codeFlows"), "{keys:?}");
        assert!(r["locations"][0].get("logicalLocations").is_none());
        assert_eq!(r["ruleIndex"], 0);
    }
}
