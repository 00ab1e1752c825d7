//! Expansion: the `extern "C"` functions of `c_abi!`, the types of `c_types!`, the submission
//! functions of `c_ops!`, each from checked input (`validate`) and with `quote!`.

use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};

use crate::abi;
use crate::cdecl;
use crate::header;
use crate::parse::{last_ident, Preset, Presets, Source};
use crate::validate::{Table, Variant};

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

pub fn abi(presets: &Presets, table: &Table) -> syn::Result<TokenStream2> {
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
    let header = header::header_text(&names.join(", "), table).map_err(err)?;
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

pub fn types(table: &Table) -> Result<TokenStream2, String> {
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
        for (v, n) in header::enum_values(name, values, table) {
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

/// The `Abi` methods of the C functions that submit ops (`c_ops!`), one per `Submit`.
pub fn ops(table: &Table) -> syn::Result<TokenStream2> {
    let err = |e: String| syn::Error::new(Span::call_site(), e);
    let mut methods = Vec::new();
    for s in &table.submits {
        let p = &s.proto;
        let method = format_ident!("{}", p.name.trim_start_matches("aura_"));
        let ret = cdecl::rust_type(&p.ret).map_err(err)?;
        let mut params = Vec::new();
        for d in &p.params {
            let id: syn::Ident = syn::parse_str(&d.name).map_err(|_| {
                err(format!(
                    "{}: parameter `{}` is no Rust name",
                    p.name, d.name
                ))
            })?;
            let ty = cdecl::rust_type(&d.ty).map_err(err)?;
            params.push(quote!(#id: #ty));
        }
        let engine = format_ident!("{}", p.params[0].name);
        let callback = format_ident!("{}", p.params[s.callback].name);
        let user_data = format_ident!("{}", p.params[s.callback + 1].name);
        let flags = match &s.flags {
            Some(f) => {
                let f = format_ident!("{}", f);
                quote!(#f)
            }
            None => quote!(0),
        };
        let fd = match &s.fd {
            Some(f) => quote!(#f),
            None => quote!(-1),
        };
        let finish = match &s.out {
            Some(out) => quote! {
                // SAFETY: the C contract of this function: the pointer is NULL (refused here)
                // or writable until the callback.
                match unsafe { Self::copy_out(#out) } {
                    Ok(f) => f,
                    Err(errno) => return ::auraio_capi_abi::abi::fail(errno, ::core::ptr::null_mut()),
                }
            },
            None => quote!(::auraio_capi_abi::ops::nop),
        };
        let submit = |v: &Variant| -> syn::Result<TokenStream2> {
            let op = &v.op;
            let kind = &v.kind;
            let ty = match &v.buffer {
                Some(b) => {
                    let b: syn::Type = syn::parse_str(b).map_err(|e| err(e.to_string()))?;
                    quote!(::auraio_capi_abi::__private::op::#op::<#b>)
                }
                None => quote!(::auraio_capi_abi::__private::op::#op),
            };
            let args = s.args.iter().map(|(source, dir)| match (source, dir) {
                (Source::Params(ids), Some(dir)) => {
                    let id = &ids[0];
                    quote!(Self::fd_arg(#id, #flags, #dir)?)
                }
                (Source::Params(ids), None) if ids.len() == 1 => {
                    let id = &ids[0];
                    quote!(::auraio_capi_abi::convert::FromC::from_c(#id, __aura_engine)?)
                }
                (Source::Params(ids), None) => {
                    quote!(::auraio_capi_abi::convert::FromC::from_c((#(#ids),*), __aura_engine)?)
                }
                (Source::Cast(id, ty), _) => quote!(#id as #ty),
                (Source::Via(id, f), _) => quote!(::auraio_capi_abi::convert::#f(#id)?),
            });
            Ok(quote! {
                let __aura_finish = { #finish };
                // SAFETY: the C contract of this function: the engine pointer is NULL or a
                // live engine of this preset, pointer arguments are NULL (refused by the
                // conversions) or valid for what the contract documents, and the memory the
                // op points at stays valid until the callback.
                unsafe {
                    Self::submit_op(
                        #engine,
                        #fd,
                        ::auraio_capi_abi::types::#kind,
                        #callback,
                        #user_data,
                        |__aura_engine| Ok(#ty::new(#(#args),*)),
                        __aura_finish,
                    )
                }
            })
        };
        let main = submit(&s.main)?;
        let body = match &s.twin {
            None => main,
            Some((v, cond)) => {
                let twin = submit(v)?;
                quote! {
                    #[allow(unused_imports)]
                    use ::auraio_capi_abi::types::*;
                    if #cond { #twin } else { #main }
                }
            }
        };
        let doc = format!(
            " `{}`, generated from the op table's entry `{}`.",
            p.name, s.entry
        );
        let safety = format!(" The C contract of `{}`.", p.name);
        methods.push(quote! {
            #[doc = #doc]
            ///
            /// # Safety
            ///
            #[doc = #safety]
            #[allow(clippy::too_many_arguments)]
            pub unsafe fn #method(#(#params),*) -> #ret {
                #body
            }
        });
    }
    Ok(quote! {
        impl<
            P: ::auraio_capi_abi::__private::Policy,
            L: ::auraio_capi_abi::__private::LockMode,
            T: ::auraio_capi_abi::__private::Tuning,
        > ::auraio_capi_abi::Abi<P, L, T> {
            #(#methods)*
        }
    })
}
