//! Strings that look like versions but are not components: compiler idents,
//! bare numbers, documentation and licence text, prose quoting a library.
//! None may produce a component.

use fwaudit::binary::ElfInfo;
use fwaudit::identify;
use fwaudit::unpack::limits::Limits;
use fwaudit::unpack::unpack_bytes;

fn components(data: &[u8]) -> Vec<String> {
    let unpacked = unpack_bytes("blob", data.to_vec(), &Limits::default());
    let elfs: Vec<(usize, ElfInfo)> = Vec::new();
    identify::components(&unpacked, &elfs)
        .into_iter()
        .map(|c| format!("{} {}", c.name, c.version))
        .collect()
}

/// Binary-looking data (not text) around each string, as in `.rodata`/`.comment`.
fn in_binary(strings: &[&[u8]]) -> Vec<u8> {
    let mut data = vec![0x7f, 0x00, 0xff, 0x01, 0x02, 0x00];
    for s in strings {
        data.extend_from_slice(s);
        data.extend_from_slice(b"\0\x01\xfe\0");
    }
    data
}

#[test]
fn compiler_idents_are_not_components() {
    let data = in_binary(&[
        b"GCC: (GNU) 12.2.0",
        b"GCC: (Debian 12.2.0-14) 12.2.0",
        b"GCC: (OpenWrt GCC 12.3.0 r23497-6637af95aa) 12.3.0",
        b"clang version 14.0.6",
        b"Linker: LLD 14.0.6",
    ]);
    assert_eq!(components(&data), Vec::<String>::new());
}

#[test]
fn bare_version_numbers_are_not_components() {
    let data = in_binary(&[
        b"1.2.13",
        b"3.0.9",
        b"2.36",
        b"v1.35.0",
        b"1.0.20210914",
        b"0.9.75",
    ]);
    assert_eq!(components(&data), Vec::<String>::new());
}

#[test]
fn documentation_and_licence_text_is_not_a_component() {
    // Text files (change logs, READMEs, licences, man pages) are never signature-scanned.
    for text in [
        &b"= mbed TLS 2.0.0 released 2015-07-13\n\nFeatures\n"[..],
        b"  * New upstream release: OpenSSL 3.0.9 30 May 2023\n",
        b"This product includes software developed by the OpenSSL Project\nOpenSSL 1.0.2k  26 Jan 2017\n",
        b" deflate 1.2.13 Copyright 1995-2022 Jean-loup Gailly and Mark Adler\n",
        b"BusyBox v1.35.0 (2022-01-01) multi-call binary.\n",
        b"libpng version 1.6.36, December 2018, through 1.6.39 - November 2022\n",
        b"vsFTPd 1.1.0: beat me, break me)\n",
    ] {
        assert_eq!(components(text), Vec::<String>::new(), "{}", String::from_utf8_lossy(text));
    }
    // HTML documentation quoting a version, even inside binary data.
    let html = in_binary(&[b"<code>OpenSSL 1.0.2f 28 Jan 2016</code>"]);
    assert_eq!(components(&html), Vec::<String>::new());
}

#[test]
fn prose_quoting_another_library_is_not_a_component() {
    let data = in_binary(&[
        b"requires OpenSSL 1.1.1 or later",
        b"INIT: OpenSSL 1.1.1a has a maximum label length bug, bailing",
        b"compatible with zlib 1.2.x",
        b"built against libcurl",
        b"Linux version %s (%s)",
        b"BusyBox v%s (%s)",
        b"wpa_supplicant v%s",
        b"nginx version: nginx/%s",
        b"OpenSSH_9.2",
        b"SAMBA_",
    ]);
    assert_eq!(components(&data), Vec::<String>::new());
}

#[test]
fn version_shapes_without_their_products_context_are_not_components() {
    let data = in_binary(&[
        // PCRE's "version date" outside pcre's code (no error texts beside it).
        b"8.39 2016-06-14",
        b"PCRE2 version 10.42 2022-12-11",
        // libxml2 / libxslt numeric versions away from their neighbours.
        b"20914",
        b"10135",
        // Module loaders and tools name the field, not a kernel.
        b"vermagic=%s",
        b"vermagic=",
        b"vermagic: %s",
        // A symbol version outside libstdc++'s table.
        b"GLIBCXX_3.4.99",
        b"GLIBCXX_3.4",
    ]);
    assert_eq!(components(&data), Vec::<String>::new());
}

#[test]
fn one_library_quoting_another_is_not_a_component() {
    let data = in_binary(&[
        // xsltproc's version report, libxslt's configure checks, freetype users.
        b"Using libxml %s, libxslt %s and libexslt %s",
        b"compiled against libxml 20914",
        b"libxml2 2.9.14 or later is required",
        b"requires FreeType 2.12.1",
        b"linked with libfreetype.so.6.18.3",
        b"PCRE version 8.39 2016-06-14 is too old",
    ]);
    assert_eq!(components(&data), Vec::<String>::new());
}
