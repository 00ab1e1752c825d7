//! The C side of the op table (`auraio::__op_table!`): an entry's optional `c` line gives the
//! operation's `aura_op_type_t` value and, on the entry whose C function submits it, that
//! function's group, doc and prototype. The C ABI macros reach the table by forwarding
//! themselves through `__op_table!`, so an operation's C facts are written once, in its entry.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, LitInt, LitStr, Token};

use crate::abi;
use crate::cdecl;

/// A function of the C contract: from `abi::FUNCS` or from an op table entry.
#[derive(Debug, Clone)]
pub struct Func {
    pub group: String,
    pub doc: String,
    pub proto: String,
    pub c_only: bool,
}

/// What the op table says about C.
#[derive(Debug, Default)]
pub struct Table {
    /// `aura_op_type_t` enumerators and values, in value order, `AURA_OP__COUNT` last.
    pub op_type: Vec<(String, i32)>,
    /// Every C function, in header order (`abi::GROUPS`, the table's after `FUNCS`' in a group).
    pub funcs: Vec<Func>,
}

/// `c NAME = VALUE [fn [group, doc, prototype]]`, after the `c`.
struct CLine {
    name: Ident,
    value: LitInt,
    func: Option<(Span, Vec<LitStr>)>,
}

impl Parse for CLine {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        let value: LitInt = input.parse()?;
        let func = if input.peek(Token![fn]) {
            let kw = input.parse::<Token![fn]>()?;
            let content;
            syn::bracketed!(content in input);
            let list = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
            Some((kw.span, list.into_iter().collect()))
        } else {
            None
        };
        if !input.is_empty() {
            return Err(input.error("expected `;` after the op's C line"));
        }
        Ok(CLine { name, value, func })
    }
}

/// Splits `[forwarded] entries` into the forwarded tokens (empty without a leading bracket
/// group) and the entries.
pub fn split_forwarded(input: TokenStream) -> (TokenStream, TokenStream) {
    let mut it = input.into_iter().peekable();
    let forwarded = match it.peek() {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Bracket => {
            let g = g.stream();
            it.next();
            g
        }
        _ => TokenStream::new(),
    };
    (forwarded, it.collect())
}

/// Reads the `c` lines of every entry; every error found is reported, each at its line.
pub fn read(entries: TokenStream) -> syn::Result<Table> {
    let mut errors: Vec<syn::Error> = Vec::new();
    let mut ops: Vec<(Ident, i32)> = Vec::new();
    let mut table_funcs: Vec<Func> = Vec::new();
    let mut method: Option<Ident> = None;
    for tt in entries {
        match tt {
            TokenTree::Ident(id) if method.is_none() => method = Some(id),
            TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => {
                let Some(m) = method.take() else {
                    errors.push(syn::Error::new(
                        g.span(),
                        "an op table entry without a method",
                    ));
                    continue;
                };
                for stmt in statements(g.stream()) {
                    let mut toks = stmt.into_iter();
                    match toks.next() {
                        Some(TokenTree::Ident(c)) if c == "c" => {}
                        _ => continue,
                    }
                    match syn::parse2::<CLine>(toks.collect()) {
                        Ok(line) => {
                            c_line(&m, line, &mut ops, &mut table_funcs, &mut errors);
                        }
                        Err(e) => errors.push(e),
                    }
                }
            }
            // Attributes (`#`, `[doc]`), generics, arguments, `->` and the output type.
            _ => {}
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
        None => Ok(Table { op_type, funcs }),
    }
}

/// Checks one `c` line and records it.
fn c_line(
    method: &Ident,
    line: CLine,
    ops: &mut Vec<(Ident, i32)>,
    funcs: &mut Vec<Func>,
    errors: &mut Vec<syn::Error>,
) {
    let name = line.name.to_string();
    if !name.starts_with("AURA_OP_") {
        errors.push(syn::Error::new(
            line.name.span(),
            format!("`{method}`: a C op value is named AURA_OP_*, not `{name}`"),
        ));
    }
    match line.value.base10_parse::<i32>() {
        Ok(v) if v >= 0 => ops.push((line.name.clone(), v)),
        _ => errors.push(syn::Error::new(
            line.value.span(),
            format!("`{method}`: {name} needs a value in 0..=i32::MAX"),
        )),
    }
    let Some((span, strings)) = line.func else {
        return;
    };
    let [group, doc, proto] = strings.as_slice() else {
        errors.push(syn::Error::new(
            span,
            format!("`{method}`: `fn [group, doc, prototype]` takes three strings"),
        ));
        return;
    };
    let (group, doc, proto) = (group.value(), doc.value(), proto.value());
    if !abi::GROUPS.contains(&group.as_str()) {
        errors.push(syn::Error::new(
            span,
            format!(
                "`{method}`: group `{group}` is not one of the header's ({})",
                abi::GROUPS.join(", ")
            ),
        ));
    }
    match cdecl::parse_proto(&proto) {
        Ok(p) if p.name.starts_with("aura_") => {
            let named = |proto: &str| cdecl::parse_proto(proto).is_ok_and(|q| q.name == p.name);
            if funcs.iter().any(|f| named(&f.proto))
                || abi::FUNCS.iter().any(|f| !f.c_only && named(f.proto))
            {
                errors.push(syn::Error::new(
                    span,
                    format!("`{method}`: `{}` is declared twice", p.name),
                ));
            }
        }
        Ok(p) => errors.push(syn::Error::new(
            span,
            format!(
                "`{method}`: the C function `{}` is not named aura_*",
                p.name
            ),
        )),
        Err(e) => errors.push(syn::Error::new(span, format!("`{method}`: {e}"))),
    }
    funcs.push(Func {
        group,
        doc,
        proto,
        c_only: false,
    });
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

/// The top-level statements of an entry's body, split at `;`.
fn statements(body: TokenStream) -> Vec<TokenStream> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for tt in body {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == ';' => out.push(cur.drain(..).collect()),
            _ => cur.push(tt),
        }
    }
    if !cur.is_empty() {
        out.push(cur.into_iter().collect());
    }
    out
}
