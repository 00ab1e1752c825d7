//! Reads the C declarations of the ABI table and spells their types in Rust.
//!
//! Only the C the table uses is understood: `[const] base [*…] name[N]`, where base is a
//! builtin integer/float type, `struct iovec`, `struct statx`, or one of the `aura_*` types.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// A C type as written in the table.
#[derive(Debug, Clone, PartialEq)]
pub struct CType {
    /// Base type, e.g. `int`, `aura_engine_t`, `struct iovec`.
    pub base: String,
    /// Each pointer level, innermost first: whether the pointee is `const`.
    pub ptrs: Vec<bool>,
    /// Array length of a struct field.
    pub array: Option<usize>,
}

/// A parameter or field.
#[derive(Debug, Clone)]
pub struct Decl {
    pub ty: CType,
    pub name: String,
}

/// A parsed prototype.
#[derive(Debug)]
pub struct Proto {
    pub ret: CType,
    pub name: String,
    pub params: Vec<Decl>,
}

/// Parses `type name` / `type *name` / `type name[N]`.
pub fn parse_decl(text: &str) -> Result<Decl, String> {
    let text = text.trim();
    let (head, array) = match text.strip_suffix(']') {
        Some(t) => {
            let open = t
                .rfind('[')
                .ok_or_else(|| format!("unbalanced [ in `{text}`"))?;
            let n = t[open + 1..]
                .trim()
                .parse::<usize>()
                .map_err(|_| format!("bad array length in `{text}`"))?;
            (&t[..open], Some(n))
        }
        None => (text, None),
    };
    let split = head
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .ok_or_else(|| format!("no type in `{text}`"))?;
    let name = head[split + 1..].to_string();
    let mut ty = parse_type(&head[..=split])?;
    ty.array = array;
    if name.is_empty() {
        return Err(format!("no name in `{text}`"));
    }
    Ok(Decl { ty, name })
}

/// Parses a type without a name.
pub fn parse_type(text: &str) -> Result<CType, String> {
    let mut base_words = Vec::new();
    let mut ptrs = Vec::new();
    let mut pending_const = false;
    for word in text.replace('*', " * ").split_whitespace() {
        match word {
            "const" => pending_const = true,
            "*" => {
                ptrs.push(pending_const);
                pending_const = false;
            }
            w => base_words.push(w.to_string()),
        }
    }
    if base_words.is_empty() {
        return Err(format!("no base type in `{text}`"));
    }
    Ok(CType {
        base: base_words.join(" "),
        ptrs,
        array: None,
    })
}

/// Parses a prototype such as `AURA_WARN_UNUSED int aura_x(aura_engine_t *engine, int fd)`.
pub fn parse_proto(text: &str) -> Result<Proto, String> {
    let text = text.trim_start_matches("AURA_WARN_UNUSED").trim();
    let open = text.find('(').ok_or_else(|| format!("no ( in `{text}`"))?;
    let close = text.rfind(')').ok_or_else(|| format!("no ) in `{text}`"))?;
    let head = parse_decl(&text[..open])?;
    let args = text[open + 1..close].trim();
    let params = if args == "void" || args.is_empty() {
        Vec::new()
    } else {
        args.split(',').map(parse_decl).collect::<Result<_, _>>()?
    };
    Ok(Proto {
        ret: head.ty,
        name: head.name,
        params,
    })
}

/// The Rust spelling of a C base type, as a path valid inside the generated code.
fn rust_base(base: &str) -> Result<TokenStream, String> {
    Ok(match base {
        "void" => quote!(::core::ffi::c_void),
        "int" => quote!(::core::ffi::c_int),
        "unsigned int" => quote!(::core::ffi::c_uint),
        "char" => quote!(::core::ffi::c_char),
        "size_t" => quote!(usize),
        "ssize_t" => quote!(isize),
        "off_t" => quote!(i64),
        "mode_t" => quote!(u32),
        "bool" => quote!(bool),
        "double" => quote!(f64),
        "int64_t" => quote!(i64),
        "uint64_t" => quote!(u64),
        "uint32_t" => quote!(u32),
        "struct iovec" => quote!(::auraio_capi_abi::types::iovec),
        "struct statx" => quote!(::auraio_capi_abi::types::statx),
        b if b.starts_with("aura_") && is_ident(b) => {
            let id = format_ident!("{}", b);
            quote!(::auraio_capi_abi::types::#id)
        }
        b => return Err(format!("no Rust spelling for C type `{b}`")),
    })
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The Rust spelling of a C type. `void` alone is the unit type.
pub fn rust_type(ty: &CType) -> Result<TokenStream, String> {
    if ty.base == "void" && ty.ptrs.is_empty() {
        return Ok(quote!(()));
    }
    let mut out = rust_base(&ty.base)?;
    for &is_const in &ty.ptrs {
        out = if is_const {
            quote!(*const #out)
        } else {
            quote!(*mut #out)
        };
    }
    if let Some(n) = ty.array {
        out = quote!([#out; #n]);
    }
    Ok(out)
}

/// A declared name as a Rust identifier.
pub fn ident(name: &str) -> Result<proc_macro2::Ident, String> {
    if is_ident(name) {
        Ok(format_ident!("{}", name))
    } else {
        Err(format!("`{name}` is not an identifier"))
    }
}

/// The C spelling of a declaration, for the header.
pub fn c_decl(d: &Decl) -> String {
    let mut s = String::new();
    let mut ptrs = d.ty.ptrs.iter();
    if let Some(&c) = ptrs.next() {
        if c {
            s.push_str("const ");
        }
        s.push_str(&d.ty.base);
        s.push_str(" *");
    } else {
        s.push_str(&d.ty.base);
        s.push(' ');
    }
    for &c in ptrs {
        s.push_str(if c { "const *" } else { "*" });
    }
    s.push_str(&d.name);
    if let Some(n) = d.ty.array {
        s.push_str(&format!("[{n}]"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prototypes_and_types_round_trip() {
        let p = parse_proto(
            "AURA_WARN_UNUSED aura_request_t *aura_readv(aura_engine_t *engine, int fd, \
             const struct iovec *iov, int iovcnt, off_t offset)",
        )
        .unwrap();
        assert_eq!(p.name, "aura_readv");
        assert_eq!(p.ret.ptrs, vec![false]);
        assert_eq!(p.params.len(), 5);
        assert_eq!(c_decl(&p.params[2]), "const struct iovec *iov");
        assert_eq!(
            rust_type(&p.params[2].ty).unwrap().to_string(),
            "* const :: auraio_capi_abi :: types :: iovec"
        );
        let d = parse_decl("uint32_t _reserved[7]").unwrap();
        assert_eq!(rust_type(&d.ty).unwrap().to_string(), "[u32 ; 7usize]");
        assert_eq!(c_decl(&d), "uint32_t _reserved[7]");
        assert!(parse_proto("int aura_v(void)").unwrap().params.is_empty());
        assert!(rust_type(&parse_type("long double").unwrap()).is_err());
    }

    #[test]
    fn the_whole_table_parses_and_maps() {
        for f in crate::abi::FUNCS.iter().filter(|f| !f.c_only) {
            let p = parse_proto(f.proto).unwrap_or_else(|e| panic!("{}: {e}", f.proto));
            rust_type(&p.ret).unwrap();
            for d in &p.params {
                rust_type(&d.ty).unwrap_or_else(|e| panic!("{}: {e}", f.proto));
            }
        }
        for (name, _, proto) in crate::abi::FN_TYPES {
            let p = parse_proto(proto).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(p.name, *name);
            for d in &p.params {
                rust_type(&d.ty).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
        for (name, c_ty, _) in crate::abi::SCALARS {
            rust_type(&parse_type(c_ty).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        for (name, _, _, fields) in crate::abi::STRUCTS {
            for fl in *fields {
                let d = parse_decl(fl).unwrap_or_else(|e| panic!("{name}: {e}"));
                rust_type(&d.ty).unwrap();
            }
        }
    }
}
