//! Checks what the op table's C lines say against each other and against the C tables of
//! `abi`, collecting every error at its place, and produces what the expansions need.

use proc_macro2::{Span, TokenStream};
use syn::Ident;

use crate::abi;
use crate::cdecl::{self, Proto};
use crate::parse::{Entry, FnLine, Source};

/// A function of the C contract: from `abi::FUNCS` or from an op table entry.
#[derive(Debug, Clone)]
pub struct Func {
    pub group: String,
    pub doc: String,
    pub proto: String,
    pub c_only: bool,
}

/// What the op table says about C.
pub struct Table {
    /// `aura_op_type_t` enumerators and values, in value order, `AURA_OP__COUNT` last.
    pub op_type: Vec<(String, i32)>,
    /// Every C function, in header order (`abi::GROUPS`, the table's after `FUNCS`' in a group).
    pub funcs: Vec<Func>,
    /// The C functions that submit ops, in table order.
    pub submits: Vec<Submit>,
}

/// A C function submitting an op: everything its generated body needs.
pub struct Submit {
    pub proto: Proto,
    /// The table entry it comes from.
    pub entry: Ident,
    /// The op it submits.
    pub main: Variant,
    /// The op it submits instead when the condition holds.
    pub twin: Option<(Variant, TokenStream)>,
    /// Per argument of the op: what makes it, and for a descriptor whether `AT_FDCWD` is
    /// allowed (`Some(dir)`), `None` for other arguments.
    pub args: Vec<(Source, Option<bool>)>,
    /// The pointer parameter the op's output is copied to.
    pub out: Option<Ident>,
    /// The `aura_submit_flags_t` parameter, if the function has one.
    pub flags: Option<String>,
    /// The index of the callback parameter (the user data follows it).
    pub callback: usize,
    /// The parameter the request reports as its descriptor.
    pub fd: Option<Ident>,
}

/// One op a C function may submit.
pub struct Variant {
    /// Its op type (`Read`).
    pub op: Ident,
    /// Its `aura_op_type_t` value's name.
    pub kind: Ident,
    /// The Rust type of its buffer argument (`abi::C_BUFFERS`), for a generic op.
    pub buffer: Option<String>,
}

/// Checks the entries; `Err` holds every error found.
pub fn table(entries: &[Entry], mut errors: Vec<syn::Error>) -> syn::Result<Table> {
    let mut ops: Vec<(Ident, i32)> = Vec::new();
    let mut table_funcs: Vec<Func> = Vec::new();
    let mut submits = Vec::new();
    for e in entries {
        let Some(line) = &e.c else { continue };
        let name = line.name.to_string();
        if !name.starts_with("AURA_OP_") {
            errors.push(syn::Error::new(
                line.name.span(),
                format!(
                    "`{}`: a C op value is named AURA_OP_*, not `{name}`",
                    e.method
                ),
            ));
        }
        match line.value.base10_parse::<i32>() {
            Ok(v) if v >= 0 => ops.push((line.name.clone(), v)),
            _ => errors.push(syn::Error::new(
                line.value.span(),
                format!("`{}`: {name} needs a value in 0..=i32::MAX", e.method),
            )),
        }
        if let Some(f) = &line.func {
            if let Some((func, submit)) = function(e, f, entries, &table_funcs, &mut errors) {
                table_funcs.push(func);
                submits.extend(submit);
            }
        }
    }
    let op_type = op_type(&ops, &mut errors);
    let mut funcs = Vec::new();
    for group in abi::GROUPS {
        let fixed = abi::FUNCS
            .iter()
            .filter(|f| f.group == *group)
            .map(|f| Func {
                group: f.group.into(),
                doc: f.doc.into(),
                proto: f.proto.into(),
                c_only: f.c_only,
            });
        funcs.extend(fixed);
        funcs.extend(table_funcs.iter().filter(|f| f.group == *group).cloned());
    }
    for f in abi::FUNCS
        .iter()
        .filter(|f| !abi::GROUPS.contains(&f.group))
    {
        errors.push(syn::Error::new(
            Span::call_site(),
            format!(
                "FUNCS: group `{}` of `{}` is not in GROUPS",
                f.group, f.proto
            ),
        ));
    }
    match errors.into_iter().reduce(|mut a, b| {
        a.combine(b);
        a
    }) {
        Some(e) => Err(e),
        None => Ok(Table {
            op_type,
            funcs,
            submits,
        }),
    }
}

/// Checks one `c … fn [...]` part: its strings, its prototype, and how the op's arguments come
/// from the prototype's parameters.
fn function(
    e: &Entry,
    f: &FnLine,
    entries: &[Entry],
    earlier: &[Func],
    errors: &mut Vec<syn::Error>,
) -> Option<(Func, Option<Submit>)> {
    let method = &e.method;
    let err = |span: Span, msg: String| syn::Error::new(span, format!("`{method}`: {msg}"));
    let [group, doc, proto] = f.strings.as_slice() else {
        errors.push(err(
            f.span,
            "`fn [group, doc, prototype]` takes three strings".into(),
        ));
        return None;
    };
    let (group, doc, proto) = (group.value(), doc.value(), proto.value());
    if !abi::GROUPS.contains(&group.as_str()) {
        errors.push(err(
            f.span,
            format!(
                "group `{group}` is not one of the header's ({})",
                abi::GROUPS.join(", ")
            ),
        ));
    }
    let func = Func {
        group,
        doc,
        proto: proto.clone(),
        c_only: false,
    };
    let p = match cdecl::parse_proto(&proto) {
        Ok(p) => p,
        Err(msg) => {
            errors.push(err(f.span, msg));
            return Some((func, None));
        }
    };
    if !p.name.starts_with("aura_") {
        errors.push(err(
            f.span,
            format!("the C function `{}` is not named aura_*", p.name),
        ));
        return Some((func, None));
    }
    let named = |proto: &str| cdecl::parse_proto(proto).is_ok_and(|q| q.name == p.name);
    if earlier.iter().any(|f| named(&f.proto))
        || abi::FUNCS.iter().any(|f| !f.c_only && named(f.proto))
    {
        errors.push(err(f.span, format!("`{}` is declared twice", p.name)));
        return Some((func, None));
    }
    let before = errors.len();
    let param = |name: &str| p.params.iter().find(|d| d.name == name);
    let ty_of = |base: &str| {
        p.params
            .iter()
            .find(|d| d.ty.base == base && d.ty.ptrs.is_empty())
    };
    let engine_first = p
        .params
        .first()
        .is_some_and(|d| d.ty.base == "aura_engine_t" && d.ty.ptrs.len() == 1);
    let returns_request = p.ret.base == "aura_request_t" && p.ret.ptrs.len() == 1;
    let callback = p.params.windows(2).position(|w| {
        w[0].ty.base == "aura_callback_t" && w[1].ty.base == "void" && w[1].ty.ptrs.len() == 1
    });
    let Some(callback) = callback.filter(|_| engine_first && returns_request) else {
        errors.push(err(
            f.span,
            format!(
                "`{}` submits an op, so it takes the engine first and a callback followed by \
                 `void *` user data, and returns `aura_request_t *`",
                p.name
            ),
        ));
        return Some((func, None));
    };
    // The generated method's parameters keep the C names, typed in Rust.
    for d in &p.params {
        if syn::parse_str::<Ident>(&d.name).is_err() {
            errors.push(err(
                f.span,
                format!(
                    "`{}`: the parameter name `{}` is no Rust name",
                    p.name, d.name
                ),
            ));
        }
        if let Err(msg) = cdecl::rust_type(&d.ty) {
            errors.push(err(f.span, format!("`{}`: {msg}", p.name)));
        }
    }
    let Some((args_span, sources)) = &f.sources else {
        errors.push(err(
            f.span,
            "`fn [...]` needs `args(...)`: the C parameters that make each argument of the op"
                .into(),
        ));
        return Some((func, None));
    };
    if sources.len() != e.args.len() {
        let names: Vec<String> = e.args.iter().map(|a| a.name.to_string()).collect();
        errors.push(err(
            *args_span,
            format!(
                "`args(...)` makes {} of the op's {} arguments ({})",
                sources.len(),
                e.args.len(),
                names.join(", ")
            ),
        ));
    }
    let mut args = Vec::new();
    let mut fd = None;
    for (source, arg) in sources.iter().zip(&e.args) {
        for id in source.params() {
            if param(&id.to_string()).is_none() {
                errors.push(err(
                    id.span(),
                    format!("`{id}` is not a parameter of `{}`", p.name),
                ));
            }
        }
        let dir = if arg.fd {
            match source {
                Source::Params(ids) if ids.len() == 1 => {
                    fd.get_or_insert_with(|| ids[0].clone());
                }
                _ => errors.push(err(
                    arg.name.span(),
                    format!(
                        "the descriptor `{}` comes from one C parameter, unconverted",
                        arg.name
                    ),
                )),
            }
            Some(arg.name.to_string().ends_with("dirfd"))
        } else {
            None
        };
        args.push((source.clone(), dir));
    }
    if let Some(out) = &f.out {
        // A writable pointer to what the op hands back (`struct statx *` for a `statx`).
        let pointee = |d: &cdecl::Decl| d.ty.base.rsplit(' ').next().map(str::to_string);
        let ok = param(&out.to_string()).is_some_and(|d| {
            d.ty.ptrs == [false]
                && pointee(d).is_some_and(|b| e.output.as_ref().is_some_and(|o| *o == b))
        });
        if !ok {
            errors.push(err(
                out.span(),
                format!(
                    "`out {out}`: not a writable pointer parameter of `{}` to the op's output",
                    p.name
                ),
            ));
        }
    }
    let flags = ty_of("aura_submit_flags_t").map(|d| d.name.clone());
    if flags.is_some() && fd.is_none() {
        errors.push(err(
            f.span,
            format!(
                "`{}` takes submission flags, which apply to a descriptor, but makes none",
                p.name
            ),
        ));
    }
    let main = variant(e, errors);
    let twin = f.twin.as_ref().and_then(|(m, cond)| {
        let Some(t) = entries.iter().find(|t| t.method == *m) else {
            errors.push(err(m.span(), format!("`or {m}`: no op table entry `{m}`")));
            return None;
        };
        // Both ops are made from the same conversions: their arguments must agree, each
        // in kind (a descriptor, a directory descriptor) and, unless generic, in type.
        let generic = |x: &Entry, a: &crate::parse::Arg| {
            x.generic
                .as_ref()
                .is_some_and(|(g, _)| a.ty.split(|c: char| !c.is_alphanumeric()).any(|w| g == w))
        };
        let same = |a: &crate::parse::Arg, b: &crate::parse::Arg| {
            a.fd == b.fd
                && a.name.to_string().ends_with("dirfd") == b.name.to_string().ends_with("dirfd")
                && (generic(e, a) && generic(t, b) || a.ty == b.ty)
        };
        if t.args.len() != e.args.len() || t.args.iter().zip(&e.args).any(|(b, a)| !same(a, b)) {
            errors.push(err(
                m.span(),
                format!(
                    "`or {m}`: `{m}`'s arguments do not match `{method}`'s; both are made \
                     from the same `args(...)`"
                ),
            ));
        }
        Some((variant(t, errors)?, cond.clone()))
    });
    if errors.len() > before {
        return Some((func, None));
    }
    let main = main?;
    let submit = Submit {
        proto: p,
        entry: e.method.clone(),
        main,
        twin,
        args,
        out: f.out.clone(),
        flags,
        callback,
        fd,
    };
    Some((func, Some(submit)))
}

/// The op an entry submits from C: its type, its C value, its buffer type.
fn variant(e: &Entry, errors: &mut Vec<syn::Error>) -> Option<Variant> {
    let method = &e.method;
    let Some(op) = &e.op else {
        errors.push(syn::Error::new(
            method.span(),
            format!("`{method}`: no `op Type {{ … }}` line"),
        ));
        return None;
    };
    let Some(c) = &e.c else {
        errors.push(syn::Error::new(
            method.span(),
            format!("`{method}` is submitted from C, so it needs a `c AURA_OP_… = N` line"),
        ));
        return None;
    };
    let buffer = match &e.generic {
        None => None,
        Some((_, b)) => match abi::C_BUFFERS.iter().find(|(n, _)| b == n) {
            Some((_, ty)) => Some(ty.to_string()),
            None => {
                errors.push(syn::Error::new(
                    b.span(),
                    format!(
                        "`{method}`: no C buffer type for bound `{b}` (abi::C_BUFFERS has {})",
                        abi::C_BUFFERS
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
                return None;
            }
        },
    };
    Some(Variant {
        op: op.clone(),
        kind: c.name.clone(),
        buffer,
    })
}

/// The enumerators of `aura_op_type_t`: the table's, the extras, `AURA_OP__COUNT`.
fn op_type(ops: &[(Ident, i32)], errors: &mut Vec<syn::Error>) -> Vec<(String, i32)> {
    let mut all: Vec<(String, i32, Span)> = ops
        .iter()
        .map(|(n, v)| (n.to_string(), *v, n.span()))
        .chain(
            abi::OP_TYPE_EXTRA
                .iter()
                .map(|(n, v)| (n.to_string(), *v, Span::call_site())),
        )
        .collect();
    all.sort_by_key(|(_, v, _)| *v);
    for w in all.windows(2) {
        if w[0].1 == w[1].1 {
            errors.push(syn::Error::new(
                w[1].2,
                format!("{} has the value of {} ({})", w[1].0, w[0].0, w[1].1),
            ));
        }
        if w[0].0 == w[1].0 {
            errors.push(syn::Error::new(w[1].2, format!("{} twice", w[1].0)));
        }
    }
    let count = all.last().map_or(0, |(_, v, _)| v + 1) + abi::OP_TYPE_RESERVED_AFTER;
    let mut out: Vec<(String, i32)> = all.into_iter().map(|(n, v, _)| (n, v)).collect();
    out.push(("AURA_OP__COUNT".into(), count));
    out
}
