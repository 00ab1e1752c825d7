//! Parsing: a `c_abi!` preset list, and the op table's entries as the C macros receive them
//! (verbatim, through `auraio::__op_table!`). Syntax only; what the parts must agree on is
//! checked in `validate`.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{GenericArgument, Ident, LitInt, LitStr, Path, PathArguments, Token, Type};

/// One preset, or several separated by commas (the first is the default).
pub struct Presets(pub Vec<Preset>);

impl Parse for Presets {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut list = Vec::new();
        loop {
            let preset: Preset = input.parse()?;
            // Options choose among the presets by policy and lock mode alone.
            let key = (last_ident(&preset.policy), last_ident(&preset.lock));
            if list
                .iter()
                .any(|p: &Preset| (last_ident(&p.policy), last_ident(&p.lock)) == key)
            {
                let (policy, lock) = (&preset.policy, &preset.lock);
                return Err(syn::Error::new_spanned(
                    quote!(#policy, #lock),
                    format!(
                        "a second preset with policy `{}` and lock mode `{}`: `ring_select` and \
                         `single_thread` could not choose between them",
                        key.0, key.1
                    ),
                ));
            }
            list.push(preset);
            if input.is_empty() || input.peek(Token![;]) {
                let _ = input.parse::<Option<Token![;]>>()?;
                if !input.is_empty() {
                    return Err(input.error("unexpected tokens after the engine preset"));
                }
                return Ok(Presets(list));
            }
            if input.peek(Token![,]) {
                input.parse::<Token![,]>()?;
                if input.is_empty() {
                    return Ok(Presets(list));
                }
                continue;
            }
            return Err(input.error("unexpected tokens after the engine preset"));
        }
    }
}

/// `Engine<Policy, LockMode[, Tuning]>`.
pub struct Preset {
    pub policy: Path,
    pub lock: Path,
    pub tuning: Option<Type>,
}

const POLICIES: &[&str] = &["Adaptive", "CpuLocal", "RoundRobin"];
const LOCKS: &[&str] = &["MultiThread", "SingleThread"];

/// The last segment of a path, as text.
pub fn last_ident(p: &Path) -> String {
    p.segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default()
}

impl Parse for Preset {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let expected = "expected an engine preset: `Engine<Policy, LockMode>` or \
                        `Engine<Policy, LockMode, Tuning>`";
        let path: Path = input
            .parse()
            .map_err(|e| syn::Error::new(e.span(), expected))?;
        let last = path
            .segments
            .last()
            .ok_or_else(|| syn::Error::new_spanned(&path, expected))?;
        if last.ident != "Engine" {
            return Err(syn::Error::new_spanned(&last.ident, expected));
        }
        let PathArguments::AngleBracketed(args) = &last.arguments else {
            return Err(syn::Error::new_spanned(
                &last.ident,
                "the preset needs its type arguments: `Engine<Policy, LockMode[, Tuning]>`",
            ));
        };
        let args: Vec<&GenericArgument> = args.args.iter().collect();
        let ty_path = |a: &GenericArgument, what: &str, allowed: &[&str]| -> syn::Result<Path> {
            let GenericArgument::Type(Type::Path(tp)) = a else {
                return Err(syn::Error::new_spanned(
                    a,
                    format!("expected a {what} type"),
                ));
            };
            let name = last_ident(&tp.path);
            if !allowed.contains(&name.as_str()) {
                return Err(syn::Error::new_spanned(
                    &tp.path,
                    format!(
                        "unknown {what} `{name}`: expected one of {}",
                        allowed.join(", ")
                    ),
                ));
            }
            Ok(tp.path.clone())
        };
        match args.as_slice() {
            [p, l] | [p, l, _] => {
                let policy = ty_path(p, "ring-selection policy", POLICIES)?;
                let lock = ty_path(l, "lock mode", LOCKS)?;
                let tuning = match args.get(2) {
                    Some(GenericArgument::Type(t)) => Some(t.clone()),
                    Some(other) => {
                        return Err(syn::Error::new_spanned(other, "expected a tuning type"))
                    }
                    None => None,
                };
                Ok(Preset {
                    policy,
                    lock,
                    tuning,
                })
            }
            _ => Err(syn::Error::new_spanned(
                &last.arguments,
                format!("{expected}; got {} type arguments", args.len()),
            )),
        }
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

/// One op table entry, as far as C is concerned.
pub struct Entry {
    /// The method name (`read`).
    pub method: Ident,
    /// The type parameter (`B`) and its bound, by its last path segment (`IoBufMut`).
    pub generic: Option<(Ident, Ident)>,
    /// The last identifier of the output type (`statx` for `Box<…::libc::statx>`).
    pub output: Option<Ident>,
    /// The arguments, in order.
    pub args: Vec<Arg>,
    /// The op type (`op Read { … }`).
    pub op: Option<Ident>,
    /// The `c` line.
    pub c: Option<CLine>,
}

/// An argument of an entry's method.
pub struct Arg {
    pub name: Ident,
    /// Its type is a file descriptor (`RawFd`).
    pub fd: bool,
    /// Its type, as text.
    pub ty: String,
}

/// `c NAME = VALUE [fn [group, doc, prototype] args(SOURCES) [out PARAM] [or METHOD if COND]]`,
/// after the `c`.
pub struct CLine {
    pub name: Ident,
    pub value: LitInt,
    pub func: Option<FnLine>,
}

/// The C function part of a `c` line.
pub struct FnLine {
    /// The `fn` keyword's span, where errors about the function point.
    pub span: Span,
    /// `[group, doc, prototype]`.
    pub strings: Vec<LitStr>,
    /// `args(…)`: for each argument of the op, what makes it.
    pub sources: Option<(Span, Vec<Source>)>,
    /// `out PARAM`: the pointer parameter the op's output is copied to.
    pub out: Option<Ident>,
    /// `or METHOD if COND`: the entry submitted instead when `COND` (a Rust expression over
    /// the C parameters) holds.
    pub twin: Option<(Ident, TokenStream)>,
}

/// What makes one argument of an op from the C parameters.
#[derive(Clone)]
pub enum Source {
    /// Parameters converted together (`buf len`), through `FromC`.
    Params(Vec<Ident>),
    /// A parameter cast as is (`offset as u64`): the C contract passes it on unchecked.
    Cast(Ident, Box<Type>),
    /// A parameter through a checking function of `auraio_capi_abi::convert` (`len via
    /// positive`), for a rule its type alone does not give.
    Via(Ident, Ident),
}

impl Parse for Source {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let first: Ident = input.parse()?;
        if input.peek(Token![as]) {
            input.parse::<Token![as]>()?;
            return Ok(Source::Cast(first, Box::new(input.parse()?)));
        }
        if input.peek(Ident) && input.fork().parse::<Ident>()? == "via" {
            input.parse::<Ident>()?;
            return Ok(Source::Via(first, input.parse()?));
        }
        let mut params = vec![first];
        while input.peek(Ident) {
            params.push(input.parse()?);
        }
        Ok(Source::Params(params))
    }
}

impl Source {
    /// The C parameters named.
    pub fn params(&self) -> Vec<&Ident> {
        match self {
            Source::Params(p) => p.iter().collect(),
            Source::Cast(p, _) | Source::Via(p, _) => vec![p],
        }
    }
}

impl Parse for CLine {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        let value: LitInt = input.parse()?;
        let func = if input.peek(Token![fn]) {
            Some(input.parse()?)
        } else {
            None
        };
        if !input.is_empty() {
            return Err(input.error(if func.is_some() {
                "expected, in this order, `args(...)`, `out PARAM`, `or ENTRY if CONDITION`, \
                 then `;`"
            } else {
                "expected `fn [group, doc, prototype]` or `;` after the op's C value"
            }));
        }
        Ok(CLine { name, value, func })
    }
}

impl Parse for FnLine {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let kw = input.parse::<Token![fn]>()?;
        let content;
        syn::bracketed!(content in input);
        let strings = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?
            .into_iter()
            .collect();
        let mut line = FnLine {
            span: kw.span,
            strings,
            sources: None,
            out: None,
            twin: None,
        };
        if input.peek(Ident) && input.fork().parse::<Ident>()? == "args" {
            let kw: Ident = input.parse()?;
            let content;
            syn::parenthesized!(content in input);
            let list = Punctuated::<Source, Token![,]>::parse_terminated(&content)?;
            line.sources = Some((kw.span(), list.into_iter().collect()));
        }
        if input.peek(Ident) && input.fork().parse::<Ident>()? == "out" {
            input.parse::<Ident>()?;
            line.out = Some(input.parse()?);
        }
        if input.peek(Ident) && input.fork().parse::<Ident>()? == "or" {
            input.parse::<Ident>()?;
            let method: Ident = input.parse()?;
            input.parse::<Token![if]>()?;
            let cond: TokenStream = input.parse()?;
            if cond.is_empty() {
                return Err(input.error("expected the condition choosing the other op"));
            }
            line.twin = Some((method, cond));
        }
        Ok(line)
    }
}

/// Reads the entries; every syntax error found is reported, each at its place.
pub fn entries(tokens: TokenStream) -> (Vec<Entry>, Vec<syn::Error>) {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    let mut head: Vec<TokenTree> = Vec::new();
    for tt in tokens {
        match tt {
            TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => {
                let head = std::mem::take(&mut head);
                match entry(head, g.stream(), g.span()) {
                    Ok((e, error)) => {
                        out.push(e);
                        errors.extend(error);
                    }
                    Err(e) => errors.push(e),
                }
            }
            tt => head.push(tt),
        }
    }
    (out, errors)
}

/// One entry from its head (`#[doc] method<G: Bound>(args) -> Out`) and its body.
fn entry(
    head: Vec<TokenTree>,
    body: TokenStream,
    span: Span,
) -> syn::Result<(Entry, Option<syn::Error>)> {
    let mut it = head.into_iter().peekable();
    // Attributes: `#` and a bracket group each.
    while matches!(it.peek(), Some(TokenTree::Punct(p)) if p.as_char() == '#') {
        it.next();
        it.next();
    }
    let Some(TokenTree::Ident(method)) = it.next() else {
        return Err(syn::Error::new(span, "an op table entry without a method"));
    };
    // `<G: path::Bound>`: its first identifier and its last.
    let mut generic: Vec<Ident> = Vec::new();
    let mut args = Vec::new();
    for tt in it.by_ref() {
        match tt {
            TokenTree::Group(g) if g.delimiter() == Delimiter::Parenthesis => {
                args = arguments(g.stream());
                break;
            }
            TokenTree::Ident(id) => generic.push(id),
            _ => {}
        }
    }
    let generic = match (generic.first(), generic.last()) {
        (Some(g), Some(b)) if generic.len() > 1 => Some((g.clone(), b.clone())),
        _ => None,
    };
    // What follows `->`: the output type.
    let output = it.fold(None, |last, tt| match tt {
        TokenTree::Ident(id) => Some(id),
        _ => last,
    });
    let mut e = Entry {
        method,
        generic,
        output,
        args,
        op: None,
        c: None,
    };
    let mut error: Option<syn::Error> = None;
    for stmt in statements(body) {
        let mut toks = stmt.into_iter();
        match toks.next() {
            // A bad `c` line is reported and the entry kept without it, so that other
            // entries naming this one (`or …`) do not add errors of their own.
            Some(TokenTree::Ident(kw)) if kw == "c" => match syn::parse2::<CLine>(toks.collect()) {
                Ok(line) => e.c = Some(line),
                Err(err) => error = Some(err),
            },
            Some(TokenTree::Ident(kw)) if kw == "op" => {
                if let Some(TokenTree::Ident(op)) = toks.next() {
                    e.op = Some(op);
                }
            }
            _ => {}
        }
    }
    Ok((e, error))
}

/// `name: Type, …`: the names, and whether each type is `RawFd`.
fn arguments(list: TokenStream) -> Vec<Arg> {
    let mut out = Vec::new();
    let mut cur: Vec<TokenTree> = Vec::new();
    let mut depth = 0i32;
    let mut flush = |cur: &mut Vec<TokenTree>| {
        let name = match cur.first() {
            Some(TokenTree::Ident(id)) => id.clone(),
            _ => return,
        };
        let fd = cur
            .iter()
            .rev()
            .find_map(|t| match t {
                TokenTree::Ident(id) => Some(id.to_string()),
                _ => None,
            })
            .is_some_and(|last| last == "RawFd");
        let ty: TokenStream = cur.iter().skip(2).cloned().collect();
        out.push(Arg {
            name,
            fd,
            ty: ty.to_string(),
        });
        cur.clear();
    };
    for tt in list {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == '<' => depth += 1,
            TokenTree::Punct(p) if p.as_char() == '>' => depth -= 1,
            TokenTree::Punct(p) if p.as_char() == ',' && depth == 0 => {
                flush(&mut cur);
                continue;
            }
            _ => {}
        }
        cur.push(tt);
    }
    flush(&mut cur);
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
