//! `cargo xtask gen [--check]`: writes the protocol's generated files from `spec/nltelem.yaml`.
//!
//! One description, four outputs that must never disagree: the uapi header, the module's
//! policy and operation tables, the Rust constants and policies, and a Wireshark dissector.
//! `--check` writes nothing and fails when a file on disk differs from what the spec gives.

use crate::util::{fail, root, usage, Result};
use serde::Deserialize;
use std::fmt::Write as _;
use std::path::PathBuf;

const SPEC: &str = "spec/nltelem.yaml";
const UAPI_HEADER: &str = "kmod/uapi/nltelem.h";
const KERNEL_GEN_H: &str = "kmod/nltelem-nl-gen.h";
const KERNEL_GEN_C: &str = "kmod/nltelem-nl-gen.c";
const RUST_GEN: &str = "proto/src/generated.rs";
const LUA_DISSECTOR: &str = "spec/nltelem.lua";

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Spec {
    name: String,
    protocol: String,
    version: u8,
    doc: String,
    classic: Classic,
    definitions: Vec<Definition>,
    attribute_sets: Vec<AttrSet>,
    operations: Operations,
    mcast_groups: McastGroups,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Classic {
    doc: String,
    default_unit: u32,
    type_base: u16,
    groups: std::collections::BTreeMap<String, u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Definition {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    doc: String,
    entries: Vec<String>,
    #[serde(default)]
    start: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct AttrSet {
    name: String,
    #[serde(default)]
    doc: String,
    attributes: Vec<Attribute>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Attribute {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    doc: String,
    #[serde(default)]
    unit: String,
    nested_attributes: Option<String>,
    #[serde(default)]
    multi_attr: bool,
    max_len: Option<u16>,
    #[serde(rename = "enum")]
    enumeration: Option<String>,
    #[serde(default)]
    enum_as_flags: bool,
    #[serde(default)]
    checks: Checks,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Checks {
    min: Option<i64>,
    max: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Operations {
    list: Vec<Operation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Operation {
    name: String,
    #[serde(default)]
    doc: String,
    attribute_set: String,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    notify_only: bool,
    #[serde(rename = "do")]
    doit: Option<OpKind>,
    dump: Option<OpKind>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpKind {
    request: Vec<String>,
    reply: Option<String>,
    #[serde(default)]
    required: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct McastGroups {
    list: Vec<McastGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct McastGroup {
    name: String,
}

pub fn run(args: &[String]) -> Result {
    let check = match args {
        [] => false,
        [a] if a == "--check" => true,
        _ => return Err(usage("gen takes only `--check`")),
    };
    let text = std::fs::read_to_string(root().join(SPEC))?;
    let spec: Spec = serde_norway::from_str(&text).map_err(|e| fail(format!("{SPEC}: {e}")))?;
    validate(&spec)?;
    let outputs = [
        (UAPI_HEADER, uapi_header(&spec)),
        (KERNEL_GEN_H, kernel_gen_h(&spec)),
        (KERNEL_GEN_C, kernel_gen_c(&spec)),
        (RUST_GEN, rust_gen(&spec)),
        (LUA_DISSECTOR, lua_dissector(&spec)),
    ];
    let mut stale = Vec::new();
    for (rel, content) in &outputs {
        let path: PathBuf = root().join(rel);
        let on_disk = std::fs::read_to_string(&path).ok();
        if on_disk.as_deref() == Some(content.as_str()) {
            continue;
        }
        if check {
            stale.push(*rel);
        } else {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, content)?;
            println!("wrote {rel}");
        }
    }
    if stale.is_empty() {
        println!("generated files match {SPEC}");
        Ok(())
    } else {
        Err(fail(format!(
            "stale generated files (run `cargo xtask gen`): {}",
            stale.join(", ")
        )))
    }
}

/// Catches spec mistakes the generators would otherwise turn into broken code.
fn validate(spec: &Spec) -> Result {
    if spec.protocol != "genetlink" {
        return Err(fail("only `protocol: genetlink` is supported"));
    }
    let known = [
        "u8", "u16", "u32", "u64", "s32", "s64", "flag", "string", "nest", "pad",
    ];
    for set in &spec.attribute_sets {
        for a in &set.attributes {
            if !known.contains(&a.kind.as_str()) {
                return Err(fail(format!(
                    "{}.{}: unknown type {}",
                    set.name, a.name, a.kind
                )));
            }
            if a.kind == "nest"
                && a.nested_attributes
                    .as_ref()
                    .and_then(|n| find_set(spec, n))
                    .is_none()
            {
                return Err(fail(format!(
                    "{}.{}: nest without a known set",
                    set.name, a.name
                )));
            }
            if let Some(e) = &a.enumeration {
                if !spec.definitions.iter().any(|d| &d.name == e) {
                    return Err(fail(format!("{}.{}: unknown enum {e}", set.name, a.name)));
                }
            }
        }
    }
    for op in &spec.operations.list {
        let set = find_set(spec, &op.attribute_set)
            .ok_or_else(|| fail(format!("op {}: unknown set {}", op.name, op.attribute_set)))?;
        for kind in [&op.doit, &op.dump].into_iter().flatten() {
            if let Some(reply) = &kind.reply {
                if find_set(spec, reply).is_none() {
                    return Err(fail(format!("op {}: unknown reply set {reply}", op.name)));
                }
            }
            for name in kind.request.iter().chain(&kind.required) {
                if !set.attributes.iter().any(|a| &a.name == name) {
                    return Err(fail(format!(
                        "op {}: {} not in set {}",
                        op.name, name, set.name
                    )));
                }
            }
        }
    }
    Ok(())
}

fn find_set<'s>(spec: &'s Spec, name: &str) -> Option<&'s AttrSet> {
    spec.attribute_sets.iter().find(|s| s.name == name)
}

fn upper(name: &str) -> String {
    name.replace('-', "_").to_uppercase()
}

fn lower(name: &str) -> String {
    name.replace('-', "_")
}

/// `NLTELEM_A_<SET>_<ATTR>`, the kernel's naming for attribute enums.
fn attr_const(spec: &Spec, set: &str, attr: &str) -> String {
    format!("{}_A_{}_{}", upper(&spec.name), upper(set), upper(attr))
}

fn cmd_const(spec: &Spec, op: &str) -> String {
    format!("{}_CMD_{}", upper(&spec.name), upper(op))
}

fn header_banner(comment_open: &str, comment_close: &str) -> String {
    format!(
        "{comment_open}Do not edit: generated by `cargo xtask gen` from {SPEC}.{comment_close}\n"
    )
}

fn definition_values(d: &Definition) -> Vec<(String, u64)> {
    d.entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let v = if d.kind == "flags" {
                1u64 << i
            } else {
                u64::from(d.start) + i as u64
            };
            (e.clone(), v)
        })
        .collect()
}

fn uapi_header(spec: &Spec) -> String {
    let p = upper(&spec.name);
    let guard = format!("_UAPI_LINUX_{p}_H");
    let mut o = String::new();
    o.push_str(
        "/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */\n",
    );
    o.push_str(&header_banner("/* ", " */"));
    let _ = writeln!(o, "\n#ifndef {guard}\n#define {guard}\n");
    let _ = writeln!(o, "/* {} */", spec.doc);
    let _ = writeln!(o, "#define {p}_FAMILY_NAME\t\"{}\"", spec.name);
    let _ = writeln!(o, "#define {p}_FAMILY_VERSION\t{}\n", spec.version);
    for line in spec.classic.doc.lines() {
        let _ = writeln!(o, "/* {line} */");
    }
    let _ = writeln!(
        o,
        "#define {p}_CLASSIC_DEFAULT_UNIT\t{}",
        spec.classic.default_unit
    );
    let _ = writeln!(
        o,
        "#define {p}_CLASSIC_TYPE_BASE\t{}",
        spec.classic.type_base
    );
    let mut groups: Vec<_> = spec.classic.groups.iter().collect();
    groups.sort_by_key(|(_, v)| **v);
    for (g, v) in groups {
        let _ = writeln!(o, "#define {p}_CLASSIC_GROUP_{}\t{v}", upper(g));
    }
    let _ = writeln!(
        o,
        "#define {p}_CLASSIC_TYPE(cmd)\t({p}_CLASSIC_TYPE_BASE + (cmd))\n"
    );
    for d in &spec.definitions {
        let _ = writeln!(
            o,
            "/* {} */\nenum {}_{} {{",
            d.doc,
            lower(&spec.name),
            lower(&d.name)
        );
        for (e, v) in definition_values(d) {
            let _ = writeln!(o, "\t{p}_{}_{} = {v},", upper(&d.name), upper(&e));
        }
        o.push_str("};\n\n");
    }
    for set in &spec.attribute_sets {
        if !set.doc.is_empty() {
            let _ = writeln!(o, "/* {} */", set.doc);
        }
        o.push_str("enum {\n");
        for (i, a) in set.attributes.iter().enumerate() {
            let name = attr_const(spec, &set.name, &a.name);
            let note = attr_note(a);
            if i == 0 {
                let _ = writeln!(o, "\t{name} = 1,{note}");
            } else {
                let _ = writeln!(o, "\t{name},{note}");
            }
        }
        let max = format!("{p}_A_{}_MAX", upper(&set.name));
        let _ = writeln!(o, "\n\t__{max},\n\t{max} = (__{max} - 1)\n}};\n");
    }
    o.push_str("enum {\n");
    for (i, op) in spec.operations.list.iter().enumerate() {
        let name = cmd_const(spec, &op.name);
        if i == 0 {
            let _ = writeln!(o, "\t{name} = 1,");
        } else {
            let _ = writeln!(o, "\t{name},");
        }
    }
    let _ = writeln!(
        o,
        "\n\t__{p}_CMD_MAX,\n\t{p}_CMD_MAX = (__{p}_CMD_MAX - 1)\n}};\n"
    );
    for g in &spec.mcast_groups.list {
        let _ = writeln!(o, "#define {p}_MCGRP_{}\t\"{}\"", upper(&g.name), g.name);
    }
    let _ = writeln!(o, "\n#endif /* {guard} */");
    o
}

/// A short trailing comment for an attribute: its type, and its unit when it has one.
fn attr_note(a: &Attribute) -> String {
    let mut note = a.kind.clone();
    if let Some(n) = &a.nested_attributes {
        let _ = write!(note, " {n}");
    }
    if a.multi_attr {
        note.push_str(", repeated");
    }
    if !a.unit.is_empty() {
        let _ = write!(note, ", {}", a.unit);
    }
    format!("\t/* {note} */")
}

/// The request attributes of an op and the set they belong to, when it takes any.
fn request_of<'s>(spec: &'s Spec, op: &'s Operation) -> Option<(&'s AttrSet, &'s OpKind)> {
    let kind = op.doit.as_ref().or(op.dump.as_ref())?;
    if kind.request.is_empty() {
        return None;
    }
    Some((find_set(spec, &op.attribute_set)?, kind))
}

fn kernel_gen_h(spec: &Spec) -> String {
    let n = lower(&spec.name);
    let p = upper(&spec.name);
    let mut o = String::new();
    o.push_str("/* SPDX-License-Identifier: GPL-2.0 */\n");
    o.push_str(&header_banner("/* ", " */"));
    let _ = writeln!(o, "\n#ifndef _LINUX_{p}_GEN_H\n#define _LINUX_{p}_GEN_H\n");
    o.push_str("#include <net/netlink.h>\n#include <net/genetlink.h>\n\n");
    let _ = writeln!(o, "#include \"uapi/{n}.h\"\n");
    o.push_str("/* Request policies, one per operation that takes attributes. */\n");
    for op in &spec.operations.list {
        if let Some((set, kind)) = request_of(spec, op) {
            let last = last_request_attr(spec, set, kind);
            let _ = writeln!(
                o,
                "extern const struct nla_policy {n}_{}_nl_policy[{last} + 1];",
                lower(&op.name)
            );
        }
    }
    // The widest request policy, as a number: tb arrays on the stack are sized by it.
    let widest = spec
        .operations
        .list
        .iter()
        .filter_map(|op| request_of(spec, op))
        .map(|(set, kind)| {
            set.attributes
                .iter()
                .rposition(|a| kind.request.contains(&a.name))
                .map_or(0, |i| i + 1)
        })
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        o,
        "\n/* Highest attribute type any request policy admits. */\n#define {p}_REQ_MAXATTR\t{widest}"
    );
    let _ = writeln!(
        o,
        "\n/* The module's handlers, shared by both transports. */\nstruct {n}_req;"
    );
    for op in spec.operations.list.iter().filter(|o| o.doit.is_some()) {
        let _ = writeln!(o, "int {n}_{}_doit(struct {n}_req *req);", lower(&op.name));
    }
    for op in spec.operations.list.iter().filter(|o| o.dump.is_some()) {
        let _ = writeln!(
            o,
            "int {n}_nl_{0}_dumpit(struct sk_buff *skb, struct netlink_callback *cb);\n\
             int {n}_classic_{0}_dumpit(struct sk_buff *skb, struct netlink_callback *cb);",
            lower(&op.name)
        );
    }
    let _ = writeln!(
        o,
        "int {n}_nl_doit(struct sk_buff *skb, struct genl_info *info);\n\n\
         /* One row per command, indexed by command, for the classic unit's dispatcher. */\n\
         struct {n}_op {{\n\
         \tconst struct nla_policy *policy;\n\
         \tu32 maxattr;\n\
         \tbool admin_perm;\n\
         \tint (*doit)(struct {n}_req *req);\n\
         \tint (*dumpit)(struct sk_buff *skb, struct netlink_callback *cb);\n\
         }};\n\n\
         extern const struct {n}_op {n}_ops[{p}_CMD_MAX + 1];"
    );
    let genl_ops = spec
        .operations
        .list
        .iter()
        .filter(|o| !o.notify_only)
        .count();
    let _ = writeln!(
        o,
        "extern const struct genl_ops {n}_nl_ops[{genl_ops}];\n\n\
         enum {{\n{}}};\n\n\
         extern const struct genl_multicast_group {n}_nl_mcgrps[{}];\n\n\
         int {n}_check_required(u8 cmd, struct nlattr **tb, struct netlink_ext_ack *extack);\n\n\
         #endif /* _LINUX_{p}_GEN_H */",
        spec.mcast_groups
            .list
            .iter()
            .map(|g| format!("\t{p}_NLGRP_{},\n", upper(&g.name)))
            .collect::<String>(),
        spec.mcast_groups.list.len()
    );
    o
}

fn last_request_attr(spec: &Spec, set: &AttrSet, kind: &OpKind) -> String {
    let last = set
        .attributes
        .iter()
        .rev()
        .find(|a| kind.request.contains(&a.name))
        .expect("validated: request names are in the set");
    attr_const(spec, &set.name, &last.name)
}

fn nla_type(kind: &str) -> &'static str {
    match kind {
        "u8" => "NLA_U8",
        "u16" => "NLA_U16",
        "u32" => "NLA_U32",
        "u64" => "NLA_U64",
        "s32" => "NLA_S32",
        "s64" => "NLA_S64",
        "flag" => "NLA_FLAG",
        "string" => "NLA_NUL_STRING",
        "nest" => "NLA_NESTED",
        _ => "NLA_REJECT",
    }
}

/// The policy entry of one attribute; `ranges` collects the range structs it needs.
fn policy_entry(spec: &Spec, set: &AttrSet, a: &Attribute, ranges: &mut String) -> String {
    let n = lower(&spec.name);
    let t = nla_type(&a.kind);
    if a.kind == "string" {
        return format!("{{ .type = {t}, .len = {} }}", a.max_len.unwrap_or(0));
    }
    if let Some(e) = &a.enumeration {
        let d = spec
            .definitions
            .iter()
            .find(|d| &d.name == e)
            .expect("validated");
        let values = definition_values(d);
        if a.enum_as_flags {
            let mask: u64 = values.iter().map(|(_, v)| v).fold(0, |m, v| m | v);
            return format!("NLA_POLICY_MASK({t}, {mask:#x})");
        }
        let (lo, hi) = (values[0].1, values[values.len() - 1].1);
        return format!("NLA_POLICY_RANGE({t}, {lo}, {hi})");
    }
    let signed = a.kind.starts_with('s');
    match (a.checks.min, a.checks.max) {
        (None, None) => format!("{{ .type = {t}, }}"),
        (min, max) => {
            // Small bounds fit the s16 fields of struct nla_policy; others need a range struct.
            let small = |v: Option<i64>| {
                v.is_none_or(|v| (i64::from(i16::MIN)..=i64::from(i16::MAX)).contains(&v))
            };
            if small(min) && small(max) {
                return match (min, max) {
                    (Some(lo), Some(hi)) => format!("NLA_POLICY_RANGE({t}, {lo}, {hi})"),
                    (Some(lo), None) => format!("NLA_POLICY_MIN({t}, {lo})"),
                    (None, Some(hi)) => format!("NLA_POLICY_MAX({t}, {hi})"),
                    (None, None) => unreachable!(),
                };
            }
            let var = format!("{n}_a_{}_{}_range", lower(&set.name), lower(&a.name));
            let (st, macro_) = if signed {
                (
                    "netlink_range_validation_signed",
                    "NLA_POLICY_FULL_RANGE_SIGNED",
                )
            } else {
                ("netlink_range_validation", "NLA_POLICY_FULL_RANGE")
            };
            let mut fields = String::new();
            if let Some(lo) = min {
                let _ = writeln!(fields, "\t.min = {lo},");
            }
            let hi = max.map_or_else(
                || {
                    if signed {
                        "S64_MAX".into()
                    } else {
                        "U64_MAX".into()
                    }
                },
                |v| v.to_string(),
            );
            let _ = writeln!(fields, "\t.max = {hi},");
            let _ = write!(ranges, "static struct {st} {var} = {{\n{fields}}};\n\n");
            format!("{macro_}({t}, &{var})")
        }
    }
}

fn kernel_gen_c(spec: &Spec) -> String {
    let n = lower(&spec.name);
    let p = upper(&spec.name);
    let mut ranges = String::new();
    let mut policies = String::new();
    for op in &spec.operations.list {
        let Some((set, kind)) = request_of(spec, op) else {
            continue;
        };
        let last = last_request_attr(spec, set, kind);
        let _ = writeln!(
            policies,
            "const struct nla_policy {n}_{}_nl_policy[{last} + 1] = {{",
            lower(&op.name)
        );
        for a in set
            .attributes
            .iter()
            .filter(|a| kind.request.contains(&a.name))
        {
            let entry = policy_entry(spec, set, a, &mut ranges);
            let index = attr_const(spec, &set.name, &a.name);
            // Kernel style: a line within 100 columns (the leading tab counts 8).
            if 8 + index.len() + entry.len() + 6 > 100 {
                let _ = writeln!(policies, "\t[{index}] =\n\t\t{entry},");
            } else {
                let _ = writeln!(policies, "\t[{index}] = {entry},");
            }
        }
        policies.push_str("};\n\n");
    }
    let mut o = String::new();
    o.push_str("// SPDX-License-Identifier: GPL-2.0\n");
    o.push_str(&header_banner("/* ", " */"));
    let _ = writeln!(o, "\n#include \"{n}-nl-gen.h\"\n");
    o.push_str(&ranges);
    o.push_str(&policies);
    let _ = writeln!(o, "const struct {n}_op {n}_ops[{p}_CMD_MAX + 1] = {{");
    for op in spec.operations.list.iter().filter(|o| !o.notify_only) {
        let _ = writeln!(o, "\t[{}] = {{", cmd_const(spec, &op.name));
        if let Some((set, kind)) = request_of(spec, op) {
            let _ = writeln!(
                o,
                "\t\t.policy = {n}_{}_nl_policy,\n\t\t.maxattr = {},",
                lower(&op.name),
                last_request_attr(spec, set, kind)
            );
        }
        if op.flags.iter().any(|f| f == "admin-perm") {
            o.push_str("\t\t.admin_perm = true,\n");
        }
        if op.doit.is_some() {
            let _ = writeln!(o, "\t\t.doit = {n}_{}_doit,", lower(&op.name));
        }
        if op.dump.is_some() {
            let _ = writeln!(o, "\t\t.dumpit = {n}_classic_{}_dumpit,", lower(&op.name));
        }
        o.push_str("\t},\n");
    }
    o.push_str("};\n\n");
    let genl_ops: Vec<_> = spec
        .operations
        .list
        .iter()
        .filter(|o| !o.notify_only)
        .collect();
    let _ = writeln!(
        o,
        "const struct genl_ops {n}_nl_ops[{}] = {{",
        genl_ops.len()
    );
    for op in genl_ops {
        let _ = writeln!(o, "\t{{\n\t\t.cmd = {},", cmd_const(spec, &op.name));
        if op.doit.is_some() {
            let _ = writeln!(o, "\t\t.doit = {n}_nl_doit,");
        }
        if op.dump.is_some() {
            let _ = writeln!(o, "\t\t.dumpit = {n}_nl_{}_dumpit,", lower(&op.name));
        }
        if let Some((set, kind)) = request_of(spec, op) {
            let _ = writeln!(
                o,
                "\t\t.policy = {n}_{}_nl_policy,\n\t\t.maxattr = {},",
                lower(&op.name),
                last_request_attr(spec, set, kind)
            );
        }
        if op.flags.iter().any(|f| f == "admin-perm") {
            o.push_str("\t\t.flags = GENL_ADMIN_PERM,\n");
        }
        o.push_str("\t},\n");
    }
    o.push_str("};\n\n");
    let _ = writeln!(
        o,
        "const struct genl_multicast_group {n}_nl_mcgrps[{}] = {{",
        spec.mcast_groups.list.len()
    );
    for g in &spec.mcast_groups.list {
        let _ = writeln!(
            o,
            "\t[{p}_NLGRP_{0}] = {{ .name = \"{1}\", }},",
            upper(&g.name),
            g.name
        );
    }
    o.push_str("};\n\n");
    let _ = writeln!(
        o,
        "int {n}_check_required(u8 cmd, struct nlattr **tb, struct netlink_ext_ack *extack)\n{{\n\
         \tswitch (cmd) {{"
    );
    for op in &spec.operations.list {
        let Some(kind) = op.doit.as_ref().or(op.dump.as_ref()) else {
            continue;
        };
        if kind.required.is_empty() {
            continue;
        }
        let _ = writeln!(o, "\tcase {}:", cmd_const(spec, &op.name));
        let checks: Vec<String> = kind
            .required
            .iter()
            .map(|r| {
                format!(
                    "NL_REQ_ATTR_CHECK(extack, NULL, tb, {})",
                    attr_const(spec, &op.attribute_set, r)
                )
            })
            .collect();
        let _ = writeln!(
            o,
            "\t\tif ({}) {{\n\t\t\tNL_SET_ERR_MSG(extack, \"{}: required attribute missing\");\n\t\t\treturn -EINVAL;\n\t\t}}\n\t\tbreak;",
            checks.join(" ||\n\t\t    "),
            spec.name
        );
    }
    o.push_str("\tdefault:\n\t\tbreak;\n\t}\n\treturn 0;\n}\n");
    o
}

fn rust_policy(a: &Attribute) -> String {
    match a.kind.as_str() {
        "u8" => "AttrPolicy::U8".into(),
        "u16" => "AttrPolicy::U16".into(),
        "u32" | "s32" => "AttrPolicy::U32".into(),
        "u64" | "s64" => "AttrPolicy::U64".into(),
        "flag" => "AttrPolicy::Flag".into(),
        "string" => format!(
            "AttrPolicy::NulString {{ max_len: {} }}",
            a.max_len.unwrap_or(0)
        ),
        "nest" => format!(
            "AttrPolicy::Nested(&{})",
            upper(a.nested_attributes.as_deref().unwrap_or_default())
        ),
        // Padding carries no value: any length is fine to skip.
        _ => "AttrPolicy::Binary { min_len: 0, max_len: 0 }".into(),
    }
}

fn rust_gen(spec: &Spec) -> String {
    let mut o = String::new();
    o.push_str(&header_banner("// ", ""));
    let _ = writeln!(
        o,
        "\n/// Generic netlink family name.\npub const FAMILY_NAME: &str = \"{}\";\n\
         /// Family version (genlmsghdr.version).\npub const FAMILY_VERSION: u8 = {};\n\
         /// Classic netlink unit the module opens by default (module parameter `unit`).\n\
         pub const CLASSIC_DEFAULT_UNIT: u32 = {};\n\
         /// On the classic unit, `nlmsg_type` = `CLASSIC_TYPE_BASE` + command.\n\
         pub const CLASSIC_TYPE_BASE: u16 = {};",
        spec.name, spec.version, spec.classic.default_unit, spec.classic.type_base
    );
    let mut groups: Vec<_> = spec.classic.groups.iter().collect();
    groups.sort_by_key(|(_, v)| **v);
    for (g, v) in groups {
        let _ = writeln!(
            o,
            "/// Classic unit group number of `{g}` (bit {v} of `nl_groups`, counted from 1).\n\
             pub const CLASSIC_GROUP_{}: u32 = {v};",
            upper(g)
        );
    }
    for g in &spec.mcast_groups.list {
        let _ = writeln!(
            o,
            "/// Multicast group name, resolved to an id through the controller.\n\
             pub const MCGRP_{}: &str = \"{}\";",
            upper(&g.name),
            g.name
        );
    }
    o.push_str(
        "\n/// Commands (`genlmsghdr.cmd`, or `nlmsg_type - CLASSIC_TYPE_BASE`).\npub mod cmd {\n",
    );
    for (i, op) in spec.operations.list.iter().enumerate() {
        if !op.doc.is_empty() {
            let _ = writeln!(o, "    /// {}", op.doc);
        }
        let _ = writeln!(o, "    pub const {}: u8 = {};", upper(&op.name), i + 1);
    }
    let _ = writeln!(
        o,
        "    /// Highest command.\n    pub const MAX: u8 = {};\n}}",
        spec.operations.list.len()
    );
    for d in &spec.definitions {
        let _ = writeln!(o, "\n/// {}\npub mod {} {{", d.doc, lower(&d.name));
        for (e, v) in definition_values(d) {
            let _ = writeln!(o, "    pub const {}: u32 = {v:#x};", upper(&e));
        }
        o.push_str("}\n");
    }
    o.push_str("\n/// Attribute types, one module per attribute set.\npub mod attr {\n");
    for set in &spec.attribute_sets {
        if !set.doc.is_empty() {
            let _ = writeln!(o, "    /// {}", set.doc);
        } else {
            let _ = writeln!(o, "    /// Attribute set `{}`.", set.name);
        }
        let _ = writeln!(o, "    pub mod {} {{", lower(&set.name));
        for (i, a) in set.attributes.iter().enumerate() {
            let mut doc = format!("`{}`", a.kind);
            if !a.unit.is_empty() {
                let _ = write!(doc, ", {}", a.unit);
            }
            if !a.doc.is_empty() {
                let _ = write!(doc, ": {}", a.doc);
            }
            let _ = writeln!(o, "        /// {doc}");
            let _ = writeln!(o, "        pub const {}: u16 = {};", upper(&a.name), i + 1);
        }
        let _ = writeln!(
            o,
            "        /// Highest type.\n        pub const MAX: u16 = {};\n    }}",
            set.attributes.len()
        );
    }
    o.push_str(
        "}\n\n/// Lenient policies for reading what the module sends, one per attribute set.\n",
    );
    o.push_str("pub mod policy {\n    use nlcore::policy::{AttrPolicy, Policy, Validation};\n\n");
    for set in &spec.attribute_sets {
        let _ = writeln!(
            o,
            "    /// Attribute set `{}`.\n    pub static {}: Policy<'static> = Policy::new(\n        &[\n            AttrPolicy::Unknown,",
            set.name,
            upper(&set.name)
        );
        for a in &set.attributes {
            let _ = writeln!(o, "            {},", rust_policy(a));
        }
        o.push_str("        ],\n        Validation::Lenient,\n    );\n");
    }
    o.push_str("}\n");
    o
}

/// The Wireshark field type of an attribute, and its fixed value size when it has one.
fn lua_field_type(a: &Attribute) -> (&'static str, Option<usize>) {
    match a.kind.as_str() {
        "u8" => ("uint8", Some(1)),
        "u16" => ("uint16", Some(2)),
        "u32" => ("uint32", Some(4)),
        "u64" => ("uint64", Some(8)),
        "s32" => ("int32", Some(4)),
        "s64" => ("int64", Some(8)),
        "string" => ("stringz", None),
        "flag" => ("none", Some(0)),
        "nest" => ("none", None),
        _ => ("bytes", None),
    }
}

/// A Lua string literal (the spec's names and docs hold no quotes or backslashes, but be safe).
fn lua_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn lua_dissector(spec: &Spec) -> String {
    let n = lower(&spec.name);
    let mut o = String::new();
    o.push_str(&header_banner("-- ", ""));
    let _ =
        writeln!(
        o,
        "--\n-- Wireshark dissector for the generic netlink family `{0}` (captures on an nlmon\n\
         -- device, little-endian hosts). Wireshark learns the family's id from the controller's\n\
         -- reply in the capture. Use: tshark -X lua_script:spec/{0}.lua -r capture.pcap -V\n\n\
         local proto = Proto({1}, {2})\n",
        spec.name,
        lua_str(&n),
        lua_str(&format!("{} (generic netlink)", spec.doc.trim_end_matches('.')))
    );
    o.push_str("local commands = {\n");
    for (i, op) in spec.operations.list.iter().enumerate() {
        let _ = writeln!(o, "\t[{}] = {},", i + 1, lua_str(&upper(&op.name)));
    }
    o.push_str("}\n\n");
    for d in spec.definitions.iter().filter(|d| d.kind == "enum") {
        let _ = writeln!(o, "local enum_{} = {{", lower(&d.name));
        for (e, v) in definition_values(d) {
            let _ = writeln!(o, "\t[{v}] = {},", lua_str(&upper(&e)));
        }
        o.push_str("}\n");
    }
    o.push_str(
        "\nlocal fields = {\n\
         \tcmd = ProtoField.uint8(\"nltelem.cmd\", \"Command\", base.DEC, commands),\n\
         \tversion = ProtoField.uint8(\"nltelem.version\", \"Version\"),\n\
         \treserved = ProtoField.uint16(\"nltelem.reserved\", \"Reserved\", base.HEX),\n\
         \tunknown = ProtoField.bytes(\"nltelem.unknown\", \"Unknown attribute\"),\n"
            .replace("nltelem", &n)
            .as_str(),
    );
    for set in &spec.attribute_sets {
        for a in &set.attributes {
            let (ty, _) = lua_field_type(a);
            let abbr = format!("{n}.{}.{}", lower(&set.name), lower(&a.name));
            let label = if a.unit.is_empty() {
                a.name.clone()
            } else {
                format!("{} ({})", a.name, a.unit)
            };
            let extra = match (&a.enumeration, a.enum_as_flags) {
                (Some(_), true) => ", base.HEX".to_string(),
                (Some(e), false) => format!(", base.DEC, enum_{}", lower(e)),
                (None, _) => String::new(),
            };
            let _ = writeln!(
                o,
                "\t[{}] = ProtoField.{ty}({}, {}{extra}),",
                lua_str(&format!("{}.{}", set.name, a.name)),
                lua_str(&abbr),
                lua_str(&label)
            );
        }
    }
    o.push_str("}\n\nlocal field_list = {}\nfor _, f in pairs(fields) do\n\tfield_list[#field_list + 1] = f\nend\nproto.fields = field_list\n\n");
    let _ = writeln!(
        o,
        "local malformed = ProtoExpert.new({}, \"Malformed {} attribute\",\n\
         \texpert.group.MALFORMED, expert.severity.ERROR)\n\
         proto.experts = {{ malformed }}\n",
        lua_str(&format!("{n}.malformed")),
        spec.name
    );
    o.push_str("-- Attribute sets: type -> name, kind, fixed size, nested set.\nlocal sets = {\n");
    for set in &spec.attribute_sets {
        let _ = writeln!(o, "\t[{}] = {{", lua_str(&set.name));
        for (i, a) in set.attributes.iter().enumerate() {
            let (_, size) = lua_field_type(a);
            let size = size.map_or("nil".to_string(), |s| s.to_string());
            let nested = a
                .nested_attributes
                .as_deref()
                .map_or("nil".to_string(), lua_str);
            let _ = writeln!(
                o,
                "\t\t[{}] = {{ key = {}, kind = {}, size = {size}, set = {nested} }},",
                i + 1,
                lua_str(&format!("{}.{}", set.name, a.name)),
                lua_str(&a.kind)
            );
        }
        o.push_str("\t},\n");
    }
    o.push_str(
        "}\n\n-- Which attribute set each command's messages carry.\nlocal command_sets = {\n",
    );
    for (i, op) in spec.operations.list.iter().enumerate() {
        let _ = writeln!(o, "\t[{}] = {},", i + 1, lua_str(&op.attribute_set));
    }
    o.push_str("}\n");
    o.push_str(
        r#"
local NLA_TYPE_MASK = 16384 -- the type without NLA_F_NESTED / NLA_F_NET_BYTEORDER
local MAX_DEPTH = 8

local function dissect_attrs(tvb, offset, stop, set_name, tree, depth)
	local set = sets[set_name] or {}
	while offset + 4 <= stop do
		local len = tvb(offset, 2):le_uint()
		local kind = tvb(offset + 2, 2):le_uint() % NLA_TYPE_MASK
		if len < 4 or offset + len > stop then
			tree:add_proto_expert_info(malformed, "attribute length " .. len .. " out of bounds")
			return
		end
		local attr = set[kind]
		local whole = tvb(offset, len)
		if attr == nil then
			tree:add(fields.unknown, whole):set_text("Attribute " .. kind .. " (unknown)")
		elseif attr.size ~= nil and len - 4 ~= attr.size then
			tree:add(fields.unknown, whole):set_text(attr.key .. ": " .. (len - 4) .. " bytes")
			tree:add_proto_expert_info(malformed, attr.key .. " must be " .. attr.size .. " bytes")
		elseif attr.kind == "nest" then
			local sub = tree:add(fields[attr.key], whole)
			if depth < MAX_DEPTH then
				dissect_attrs(tvb, offset + 4, offset + len, attr.set, sub, depth + 1)
			end
		elseif attr.kind == "flag" then
			tree:add(fields[attr.key], whole)
		elseif len > 4 then
			tree:add_le(fields[attr.key], tvb(offset + 4, len - 4))
		else
			tree:add(fields[attr.key], whole)
		end
		offset = offset + math.floor((len + 3) / 4) * 4
	end
end

function proto.dissector(tvb, pinfo, tree)
	if tvb:len() < 4 then
		return 0
	end
	local cmd = tvb(0, 1):uint()
	pinfo.cols.protocol = proto.name
	pinfo.cols.info = commands[cmd] or ("command " .. cmd)
	local sub = tree:add(proto, tvb())
	sub:add(fields.cmd, tvb(0, 1))
	sub:add(fields.version, tvb(1, 1))
	sub:add_le(fields.reserved, tvb(2, 2))
	dissect_attrs(tvb, 4, tvb:len(), command_sets[cmd], sub, 0)
	return tvb:len()
end

DissectorTable.get("genl.family"):add("#,
    );
    let _ = writeln!(o, "{}, proto)", lua_str(&spec.name));
    o
}

/// The capture the dissector is checked against: a genl exchange with the module (family
/// lookup, GET_SAMPLE, GET_STATS, a telemetry broadcast) recorded on an nlmon device in the
/// qemu-x86_64 guest by `nltelem-kmod-check capture`. Record it again when the protocol
/// changes in a way the old capture cannot show.
const DISSECTOR_CAPTURE: &str = "spec/testdata/nltelem-genl-exchange.pcap";

/// Runs tshark with the generated dissector over the capture: every nltelem message must
/// decode, with no malformed attribute, no Lua error and no unknown attribute.
pub fn check_dissector() -> Result {
    let out = std::process::Command::new("tshark")
        .current_dir(root())
        .args(["-X", &format!("lua_script:{LUA_DISSECTOR}")])
        .args(["-r", DISSECTOR_CAPTURE, "-V"])
        .output()
        .map_err(|e| fail(format!("tshark (installed by `cargo xtask setup`): {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    let bad = [
        "Malformed",
        "Expert Info (Error",
        "Lua: Error",
        "Unknown attribute",
    ];
    if !out.status.success() || bad.iter().any(|b| text.contains(b)) {
        return Err(fail(format!("tshark with {LUA_DISSECTOR}:\n{text}")));
    }
    // What the capture holds, decoded by name: requests, replies and a broadcast.
    let expected = [
        "Command: GET_SAMPLE (3)",
        "Command: GET_STATS (7)",
        "Command: SAMPLE (1)",
        "snapshot-seq:",
        "user-ns (ns):",
        "ifname: lo",
        "requests:",
    ];
    let missing: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|e| !text.contains(e))
        .collect();
    if !missing.is_empty() {
        return Err(fail(format!(
            "{LUA_DISSECTOR} did not decode {missing:?} from {DISSECTOR_CAPTURE}:\n{text}"
        )));
    }
    println!("{LUA_DISSECTOR} decodes {DISSECTOR_CAPTURE}: no malformed packets");
    Ok(())
}

/// Another netlink implementation reads the same capture: `spec/pyroute2_check.py`
/// (Debian's python3-pyroute2, message classes written by hand from the uapi numbers)
/// resolves the family from the controller's reply and decodes the telemetry broadcast.
pub fn check_pyroute2() -> Result {
    // Debian's interpreter: python3-pyroute2 lives in its dist-packages.
    crate::util::exec(
        std::process::Command::new("/usr/bin/python3")
            .arg("spec/pyroute2_check.py")
            .arg(DISSECTOR_CAPTURE),
    )
}
