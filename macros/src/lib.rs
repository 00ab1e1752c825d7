//! Procedural macros of auraio: the C ABI, generated per engine preset.
//!
//! The ABI is written once, in C syntax: in this crate's tables (constants, enums, structs,
//! prototypes) and, for what concerns operations, in the op table's `c` lines (each op's
//! `aura_op_type_t` value, the declaration of the function that submits it), which the two
//! macros receive by expanding through `auraio::__op_table!`. Two macros read them:
//!
//! - [`c_types!`] (used inside `auraio_capi_abi`) emits the `#[repr(C)]` Rust types, with size
//!   assertions;
//! - [`c_abi!`] emits, for one engine preset, every `extern "C"` function of the contract and
//!   the text of the C header `auraio.h`, so the header and the symbols cannot disagree.

mod abi;
mod cdecl;
mod ops;

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::{GenericArgument, Path, PathArguments, Token, Type};

/// Generates the C ABI of auraio for one engine preset or several: every `aura_*` function
/// of the C contract as an `extern "C"` symbol, plus `AURAIO_H` (the text of the matching
/// header) and `PRESET` (the presets' names).
///
/// Each argument names a preset as an engine type: a ring-selection policy (`Adaptive`,
/// `CpuLocal` or `RoundRobin`), a lock mode (`MultiThread`, or `SingleThread` for programs that
/// use the engine from one thread only), and optionally a tuning (any type implementing
/// `auraio::Tuning`, for instance one made with `auraio::tuning!`). With several (separated by
/// commas, no two with the same policy and lock mode), `aura_create_with_options` picks the
/// one its `ring_select` and `single_thread` ask for (the first when none matches, which then
/// logs a NOTICE), stamps its index on the engine and its requests, and every other function
/// taking an engine or a request dispatches on that tag with one `match` into the preset's
/// monomorphized code (about 8 instructions a call, measured: `capi/bench/dispatch.c`).
///
/// The expansion names `::auraio_capi_abi` (the C layer) and `::auraio_macros` by their
/// crate names, so a crate invoking it depends on both directly, unrenamed (and on `auraio`
/// for a tuning of its own). Compiled by the ui-tests (`ui-tests/tests/ui/c_abi/`) and by the
/// crates in `capi/`:
///
/// ```text
/// // lib.rs of a crate built as a staticlib:
/// auraio_macros::c_abi!(Engine<CpuLocal, SingleThread>);
/// // or a library that serves what the options ask:
/// auraio_macros::c_abi!(Engine<Adaptive, MultiThread>, Engine<RoundRobin, SingleThread>);
/// ```
///
/// Every generated function catches panics: a panic is logged through the C log handler and
/// the function returns its documented failure value with `errno` = `EIO`.
#[proc_macro]
pub fn c_abi(input: TokenStream) -> TokenStream {
    let input2 = TokenStream2::from(input.clone());
    // Checked here, so errors point at the user's presets; the expansion proper happens once
    // the op table has been read (it names the ops' C functions and values).
    if let Err(e) = syn::parse::<Presets>(input) {
        return e.to_compile_error().into();
    }
    quote! {
        ::auraio_capi_abi::__private::__op_table!(::auraio_macros::__c_abi_with_ops, [#input2]);
    }
    .into()
}

/// `c_abi!`'s second stage: `[presets] op table entries` (through `__op_table!`). Not an API.
#[doc(hidden)]
#[proc_macro]
pub fn __c_abi_with_ops(input: TokenStream) -> TokenStream {
    let (presets, entries) = ops::split_forwarded(input.into());
    let run = || -> syn::Result<TokenStream2> {
        let presets: Presets = syn::parse2(presets)?;
        let table = ops::read(entries)?;
        expand_abi(&presets, &table)
    };
    match run() {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Generates the `#[repr(C)]` types of the C contract (structs, enums as `c_int` aliases with
/// their constants, opaque handles, callback types), with compile-time size checks. Used by
/// `auraio_capi_abi::types`; takes no input.
///
/// Used by `auraio_capi_abi::types`:
///
/// ```text
/// pub mod types {
///     auraio_macros::c_types!();
/// }
/// ```
#[proc_macro]
pub fn c_types(input: TokenStream) -> TokenStream {
    if let Some(t) = input.into_iter().next() {
        return syn::Error::new(t.span().into(), "c_types! takes no arguments")
            .to_compile_error()
            .into();
    }
    quote!(::auraio_capi_abi::__private::__op_table!(::auraio_macros::__c_types_with_ops);).into()
}

/// `c_types!`'s second stage: the op table's entries (through `__op_table!`). Not an API.
#[doc(hidden)]
#[proc_macro]
pub fn __c_types_with_ops(input: TokenStream) -> TokenStream {
    let (_, entries) = ops::split_forwarded(input.into());
    let table = match ops::read(entries) {
        Ok(t) => t,
        Err(e) => return e.to_compile_error().into(),
    };
    match expand_types(&table) {
        Ok(ts) => ts.into(),
        Err(e) => syn::Error::new(Span::call_site(), e)
            .to_compile_error()
            .into(),
    }
}

/// An enum's enumerators: `aura_op_type_t`'s come from the op table.
fn enum_values<'a>(
    name: &str,
    values: &'a [(&'static str, i32)],
    table: &'a ops::Table,
) -> Vec<(&'a str, i32)> {
    if name == "aura_op_type_t" {
        table
            .op_type
            .iter()
            .map(|(n, v)| (n.as_str(), *v))
            .collect()
    } else {
        values.iter().map(|(n, v)| (*n, *v)).collect()
    }
}

/// One preset, or several separated by commas (the first is the default).
struct Presets(Vec<Preset>);

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
struct Preset {
    policy: Path,
    lock: Path,
    tuning: Option<Type>,
}

const POLICIES: &[&str] = &["Adaptive", "CpuLocal", "RoundRobin"];
const LOCKS: &[&str] = &["MultiThread", "SingleThread"];

fn last_ident(p: &Path) -> String {
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

/// The `Abi` type of one preset.
fn abi_type(preset: &Preset) -> TokenStream2 {
    let policy = format_ident!("{}", last_ident(&preset.policy));
    let lock = format_ident!("{}", last_ident(&preset.lock));
    let tuning = match &preset.tuning {
        Some(t) => quote!(#t),
        None => quote!(::auraio_capi_abi::__private::DefaultTuning),
    };
    quote!(::auraio_capi_abi::Abi::<::auraio_capi_abi::__private::#policy, ::auraio_capi_abi::__private::#lock, #tuning>)
}

/// The C option values that choose a preset: (`ring_select`, `single_thread`).
fn option_key(preset: &Preset) -> TokenStream2 {
    let select = match last_ident(&preset.policy).as_str() {
        "CpuLocal" => quote!(::auraio_capi_abi::types::AURA_SELECT_CPU_LOCAL),
        "RoundRobin" => quote!(::auraio_capi_abi::types::AURA_SELECT_ROUND_ROBIN),
        _ => quote!(::auraio_capi_abi::types::AURA_SELECT_ADAPTIVE),
    };
    let single = last_ident(&preset.lock) == "SingleThread";
    quote!((#select, #single))
}

/// What a function's first parameter makes of it: which handle carries the preset's tag.
enum Dispatch {
    /// `aura_create_with_options`: the options choose the preset.
    Create,
    /// The first parameter is an engine handle.
    Engine,
    /// The first parameter is a request handle.
    Request,
    /// No handle: any preset's implementation serves (the default's).
    None,
}

fn expand_abi(presets: &Presets, table: &ops::Table) -> syn::Result<TokenStream2> {
    let err = |e: String| syn::Error::new(Span::call_site(), e);
    let list: Vec<&Preset> = presets.0.iter().collect();
    let abis: Vec<TokenStream2> = list.iter().map(|p| abi_type(p)).collect();
    let default = &abis[0];
    let mut fns = Vec::new();
    for f in table.funcs.iter().filter(|f| !f.c_only) {
        let p = cdecl::parse_proto(&f.proto).map_err(err)?;
        let name = format_ident!("{}", p.name);
        let method = format_ident!("{}", p.name.trim_start_matches("aura_"));
        let ret = cdecl::rust_type(&p.ret).map_err(err)?;
        let mut params = Vec::new();
        let mut args = Vec::new();
        for d in &p.params {
            let id = format_ident!("p_{}", d.name);
            let ty = cdecl::rust_type(&d.ty).map_err(err)?;
            params.push(quote!(#id: #ty));
            args.push(quote!(#id));
        }
        let first = p.params.first();
        let handle = |base: &str| first.is_some_and(|d| d.ty.base == base && d.ty.ptrs.len() == 1);
        let how = if list.len() == 1 {
            Dispatch::None
        } else if p.name == "aura_create_with_options" {
            Dispatch::Create
        } else if handle("aura_engine_t") {
            Dispatch::Engine
        } else if handle("aura_request_t") {
            Dispatch::Request
        } else {
            Dispatch::None
        };
        let arms = |call: &dyn Fn(&TokenStream2) -> TokenStream2| -> Vec<TokenStream2> {
            abis.iter()
                .enumerate()
                .map(|(i, abi)| {
                    let i = i as u32;
                    let c = call(abi);
                    quote!(#i => #c)
                })
                .collect()
        };
        let body = match how {
            Dispatch::None => quote! {
                // SAFETY: the caller upholds the C contract, which is the contract of the
                // implementing function.
                unsafe { #default::#method(#(#args),*) }
            },
            Dispatch::Engine | Dispatch::Request => {
                let h = args[0].clone();
                let arms = arms(&|abi| {
                    quote! {
                        // SAFETY: the tag says the handle was made by this preset, and the caller
                        // upholds the C contract, which is the implementing function's.
                        unsafe { #abi::#method(#(#args),*) }
                    }
                });
                quote! {
                    // SAFETY: a non-NULL handle comes from this library (the C contract), and
                    // every handle it makes is a #[repr(C)] value whose first field is the tag
                    // of the preset that made it.
                    match unsafe { ::auraio_capi_abi::preset_tag(#h.cast()) } {
                        #(#arms,)*
                        // NULL, or no handle of this library: the default's checks answer.
                        _ => unsafe { #default::#method(#(#args),*) },
                    }
                }
            }
            Dispatch::Create => {
                let keys: Vec<TokenStream2> = list.iter().map(|p| option_key(p)).collect();
                let arms = arms(&|abi| {
                    quote! {
                        // SAFETY: the caller upholds the C contract of create_with_options.
                        unsafe { #abi::create_with_options_tagged(#(#args,)* tag) }
                    }
                });
                quote! {
                    const KEYS: &[(::core::ffi::c_int, bool)] = &[#(#keys),*];
                    // SAFETY: per the C contract the options are NULL or readable.
                    let key = unsafe { ::auraio_capi_abi::preset_key(#(#args),*) };
                    // No preset of this library matches: the default's, which notes it.
                    let tag = KEYS.iter().position(|k| *k == key).unwrap_or(0) as u32;
                    match tag {
                        #(#arms,)*
                        _ => unreachable!("the tag is an index into KEYS"),
                    }
                }
            }
        };
        let doc = format!(" {}\n\n C: `{};`", f.doc, f.proto);
        let cname = &p.name;
        fns.push(quote! {
            #[doc = #doc]
            ///
            /// # Safety
            ///
            /// The C contract of this function: pointers are NULL or valid for the access
            /// described, handles come from this library, buffers outlive their requests.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn #name(#(#params),*) -> #ret {
                ::auraio_capi_abi::guard(#cname, move || { #body })
            }
        });
    }
    let names: Vec<String> = list.iter().map(|p| preset_name(p)).collect();
    let header = header_text(&names.join(", "), table).map_err(err)?;
    let preset_str = names.join(", ");
    Ok(quote! {
        /// The text of `auraio.h`, the C header declaring the functions of this library.
        pub const AURAIO_H: &str = #header;
        /// The engine presets the functions of this library use (the first is the default;
        /// `ring_select` and `single_thread` choose among them).
        pub const PRESET: &str = #preset_str;
        #(#fns)*
    })
}

fn preset_name(p: &Preset) -> String {
    let tuning = match &p.tuning {
        Some(t) => quote!(#t).to_string().replace(' ', ""),
        None => "DefaultTuning".into(),
    };
    format!(
        "{}/{}/{}",
        last_ident(&p.policy),
        last_ident(&p.lock),
        tuning
    )
}

fn expand_types(table: &ops::Table) -> Result<TokenStream2, String> {
    let (ma, mi, pa) = abi::VERSION;
    let packed = (ma * 10000 + mi * 100 + pa) as i32;
    let version = std::ffi::CString::new(format!("{ma}.{mi}.{pa}")).expect("no NUL");
    let version = syn::LitCStr::new(&version, Span::call_site());
    let mut items = vec![quote! {
        #[doc = "Packed version, MAJOR*10000 + MINOR*100 + PATCH."]
        pub const AURA_VERSION: ::core::ffi::c_int = #packed;
        #[doc = "Version string."]
        pub const AURA_VERSION_STRING: &::core::ffi::CStr = #version;
    }];
    for (name, c_ty, doc) in abi::SCALARS {
        let id = cdecl::ident(name)?;
        let ty = cdecl::rust_type(&cdecl::parse_type(c_ty)?)?;
        items.push(quote!(#[doc = #doc] pub type #id = #ty;));
    }
    for (name, _, doc) in abi::OPAQUE {
        let id = cdecl::ident(name)?;
        items.push(quote! {
            #[doc = #doc]
            #[doc = ""]
            #[doc = "Opaque: only pointers to it cross the ABI."]
            #[repr(C)]
            pub struct #id {
                _opaque: [u8; 0],
            }
        });
    }
    for (name, doc, proto) in abi::FN_TYPES {
        let p = cdecl::parse_proto(proto)?;
        if p.name != *name {
            return Err(format!("FN_TYPES: `{proto}` is not named `{name}`"));
        }
        let id = cdecl::ident(name)?;
        let ret = cdecl::rust_type(&p.ret)?;
        let params = p
            .params
            .iter()
            .map(|d| cdecl::rust_type(&d.ty))
            .collect::<Result<Vec<_>, _>>()?;
        items.push(quote! {
            #[doc = #doc]
            pub type #id = ::core::option::Option<unsafe extern "C" fn(#(#params),*) -> #ret>;
        });
    }
    for (name, doc, values) in abi::ENUMS {
        let id = cdecl::ident(name)?;
        items.push(quote!(#[doc = #doc] pub type #id = ::core::ffi::c_int;));
        let value_doc = format!("Value of `{name}`.");
        for (v, n) in enum_values(name, values, table) {
            let v = cdecl::ident(v)?;
            items.push(quote!(#[doc = #value_doc] pub const #v: #id = #n;));
        }
    }
    for (name, value, doc) in abi::CONSTANTS {
        let id = cdecl::ident(name)?;
        let (ty, lit) = match value.strip_suffix('u') {
            Some(v) => (quote!(::core::ffi::c_uint), v),
            None => (quote!(::core::ffi::c_int), *value),
        };
        let lit = syn::parse_str::<syn::LitInt>(lit)
            .map_err(|e| format!("constant {name} = {value}: {e}"))?;
        items.push(quote!(#[doc = #doc] pub const #id: #ty = #lit;));
    }
    for (name, doc, size, fields) in abi::STRUCTS {
        let id = cdecl::ident(name)?;
        let mut body = Vec::new();
        let mut init = Vec::new();
        for fl in fields.iter() {
            let d = cdecl::parse_decl(fl)?;
            let field = cdecl::ident(&d.name)?;
            let ty = cdecl::rust_type(&d.ty)?;
            let zero = match d.ty.base.as_str() {
                "double" => quote!(0.0),
                "bool" => quote!(false),
                _ => quote!(0),
            };
            let zero = match d.ty.array {
                Some(n) => quote!([#zero; #n]),
                None => zero,
            };
            let field_doc = format!("C: `{fl}`.");
            body.push(quote!(#[doc = #field_doc] pub #field: #ty));
            init.push(quote!(#field: #zero));
        }
        items.push(quote! {
            #[doc = #doc]
            #[repr(C)]
            #[derive(Clone, Copy, Debug, PartialEq)]
            pub struct #id { #(#body,)* }
            impl ::core::default::Default for #id {
                fn default() -> Self {
                    #id { #(#init,)* }
                }
            }
            const _: () = assert!(::core::mem::size_of::<#id>() == #size);
        });
    }
    Ok(quote!(#(#items)*))
}

/// The whole header.
fn header_text(preset: &str, table: &ops::Table) -> Result<String, String> {
    let (ma, mi, pa) = abi::VERSION;
    let mut h = String::new();
    h += &format!(
        "/* auraio.h: C API of auraio {ma}.{mi}.{pa}, an io_uring engine that tunes its queue depth.\n \
         * Generated by auraio-macros (c_abi!) from the same table as the library's symbols;\n \
         * do not edit. This copy was generated for the engine presets {preset}. */\n\
         #ifndef AURA_H\n#define AURA_H\n\n\
         #include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n\
         #include <sys/types.h>\n#include <sys/uio.h>\n\n\
         #ifdef __cplusplus\nextern \"C\" {{\n#endif\n\n\
         #if defined(AURA_SHARED_BUILD) && !defined(AURA_STATIC_BUILD)\n\
         #define AURA_API __attribute__((visibility(\"default\")))\n#else\n#define AURA_API\n#endif\n\n\
         #if defined(__GNUC__) || defined(__clang__)\n\
         #define AURA_WARN_UNUSED __attribute__((warn_unused_result))\n#else\n\
         #define AURA_WARN_UNUSED\n#endif\n\n\
         #define AURA_VERSION_MAJOR {ma}\n#define AURA_VERSION_MINOR {mi}\n#define AURA_VERSION_PATCH {pa}\n\
         #if AURA_VERSION_MINOR > 99 || AURA_VERSION_PATCH > 99\n\
         #error \"AURA_VERSION packs MINOR and PATCH into two digits each\"\n#endif\n\
         #define AURA_VERSION (AURA_VERSION_MAJOR * 10000 + AURA_VERSION_MINOR * 100 + AURA_VERSION_PATCH)\n\
         #define AURA_VERSION_STRING \"{ma}.{mi}.{pa}\"\n\n"
    );
    for (name, value, doc) in abi::CONSTANTS {
        h += &format!("/** {doc} */\n#define {name} {value}\n");
    }
    h += "\n";
    for (name, tag, doc) in abi::OPAQUE {
        h += &format!("/** {doc} */\ntypedef struct {tag} {name};\n");
    }
    for (name, doc, proto) in abi::FN_TYPES {
        let p = cdecl::parse_proto(proto)?;
        let ret = cdecl::c_decl(&cdecl::Decl {
            ty: p.ret.clone(),
            name: format!("(*{name})"),
        });
        let params: Vec<String> = p.params.iter().map(cdecl::c_decl).collect();
        h += &format!("/** {doc} */\ntypedef {ret}({});\n", params.join(", "));
    }
    for (name, c_ty, doc) in abi::SCALARS {
        h += &format!("/** {doc} */\ntypedef {c_ty} {name};\n");
    }
    h += "\n";
    for (name, doc, values) in abi::ENUMS {
        h += &format!("/** {doc} */\ntypedef enum {{\n");
        for (v, n) in enum_values(name, values, table) {
            h += &format!("    {v} = {n},\n");
        }
        h += &format!("}} {name};\n\n");
    }
    h += "/** A buffer: ordinary memory (u.ptr) or a slice of a registered buffer (u.fixed). */\n\
          typedef struct {\n    aura_buf_type_t type;\n    union {\n        void *ptr;\n        \
          struct {\n            int index;\n            size_t offset;\n        } fixed;\n    } u;\n\
          } aura_buf_t;\n\n";
    let mut asserts =
        String::from("_Static_assert(sizeof(aura_buf_t) == 24, \"aura_buf_t layout\");\n");
    for (name, doc, size, fields) in abi::STRUCTS {
        h += &format!("/** {doc} */\ntypedef struct {{\n");
        for fl in fields.iter() {
            h += &format!("    {};\n", cdecl::c_decl(&cdecl::parse_decl(fl)?));
        }
        h += &format!("}} {name};\n\n");
        asserts += &format!("_Static_assert(sizeof({name}) == {size}, \"{name} layout\");\n");
    }
    h += &format!(
        "#if defined(__cplusplus)\n{}#else\n{asserts}#endif\n\n",
        asserts.replace("_Static_assert", "static_assert")
    );
    h += abi::INLINE_HELPERS;
    h += "\nstruct statx;\n";
    let mut group = "";
    for f in &table.funcs {
        if f.group != group {
            group = &f.group;
            h += &format!("\n/* ---- {group} ---- */\n\n");
        }
        let proto = if f.c_only {
            f.proto.to_string()
        } else {
            let p = cdecl::parse_proto(&f.proto)?;
            let mut ret = cdecl::c_decl(&cdecl::Decl {
                ty: p.ret.clone(),
                name: p.name.clone(),
            });
            if f.proto.starts_with("AURA_WARN_UNUSED") {
                ret = format!("AURA_WARN_UNUSED {ret}");
            }
            let params: Vec<String> = p.params.iter().map(cdecl::c_decl).collect();
            let params = if params.is_empty() {
                "void".to_string()
            } else {
                params.join(", ")
            };
            format!("{ret}({params})")
        };
        h += &format!("/** {} */\nAURA_API {proto};\n", f.doc);
    }
    h += "\n#ifdef __cplusplus\n}\n#endif\n\n#endif /* AURA_H */\n";
    Ok(h)
}
