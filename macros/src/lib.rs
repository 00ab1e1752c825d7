//! Procedural macros of auraio: the C ABI, generated per engine preset.
//!
//! The ABI is written once, in C syntax: in this crate's tables (constants, enums, structs,
//! prototypes) and, for what concerns operations, in the op table's `c` lines (each op's
//! `aura_op_type_t` value, the declaration of the function that submits it and where each of
//! the op's arguments comes from), which the macros receive by expanding through
//! `auraio::__op_table!`. Three macros read them:
//!
//! - [`c_types!`] (used inside `auraio_capi_abi`) emits the `#[repr(C)]` Rust types, with size
//!   assertions;
//! - [`c_ops!`] (used inside `auraio_capi_abi`) emits the bodies of the functions that submit
//!   operations;
//! - [`c_abi!`] emits, for one engine preset or several, every `extern "C"` function of the
//!   contract and the text of the C header `auraio.h`, so the header and the symbols cannot
//!   disagree.
//!
//! Each goes through the same stages, one module each: `parse` (syntax) → `validate` (every
//! error collected, each at its place) → `expand` (with `quote!`) and `header`.

mod abi;
mod cdecl;
mod expand;
mod header;
mod parse;
mod validate;

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;

use parse::Presets;

/// The checked op table from `__op_table!`'s entries, or every error found.
fn read_table(entries: TokenStream2) -> syn::Result<validate::Table> {
    let (entries, errors) = parse::entries(entries);
    validate::table(&entries, errors)
}

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
    let (presets, entries) = parse::split_forwarded(input.into());
    let run = || -> syn::Result<TokenStream2> {
        let presets: Presets = syn::parse2(presets)?;
        let table = read_table(entries)?;
        expand::abi(&presets, &table)
    };
    match run() {
        Ok(ts) => ts.into(),
        // The errors, and the items the expansion defines, so the user sees the errors alone
        // rather than a cascade from code naming those items.
        Err(e) => {
            let e = e.to_compile_error();
            quote! {
                #e
                /// Not generated: `c_abi!` failed.
                pub const AURAIO_H: &str = "";
                /// Not generated: `c_abi!` failed.
                pub const PRESET: &str = "";
            }
            .into()
        }
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
    through_table(
        input,
        "c_types",
        quote!(::auraio_macros::__c_types_with_ops),
    )
}

/// A macro that takes no input: its second stage, called with the op table's entries.
fn through_table(input: TokenStream, name: &str, stage: TokenStream2) -> TokenStream {
    if let Some(t) = input.into_iter().next() {
        return syn::Error::new(t.span().into(), format!("{name}! takes no arguments"))
            .to_compile_error()
            .into();
    }
    quote!(::auraio_capi_abi::__private::__op_table!(#stage);).into()
}

/// `c_types!`'s second stage: the op table's entries (through `__op_table!`). Not an API.
#[doc(hidden)]
#[proc_macro]
pub fn __c_types_with_ops(input: TokenStream) -> TokenStream {
    let (_, entries) = parse::split_forwarded(input.into());
    let table = match read_table(entries) {
        Ok(t) => t,
        Err(e) => return e.to_compile_error().into(),
    };
    match expand::types(&table) {
        Ok(ts) => ts.into(),
        Err(e) => syn::Error::new(Span::call_site(), e)
            .to_compile_error()
            .into(),
    }
}

/// Generates the `Abi` methods of the C functions that submit operations, from the op
/// table's `c … fn [...]` lines: for each, the argument conversions its `args(...)` names, the
/// op (or its `or` twin), and the submission. Used by `auraio_capi_abi` alone (the methods
/// name its internals); takes no input.
///
/// ```text
/// // capi/abi/src/ops.rs
/// auraio_macros::c_ops!();
/// ```
#[proc_macro]
pub fn c_ops(input: TokenStream) -> TokenStream {
    through_table(input, "c_ops", quote!(::auraio_macros::__c_ops_with_ops))
}

/// `c_ops!`'s second stage: the op table's entries (through `__op_table!`). Not an API.
#[doc(hidden)]
#[proc_macro]
pub fn __c_ops_with_ops(input: TokenStream) -> TokenStream {
    let (_, entries) = parse::split_forwarded(input.into());
    match read_table(entries).and_then(|t| expand::ops(&t)) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}
