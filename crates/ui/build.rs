fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Debug info makes elements findable by accessible label in UI tests;
    // translations are bundled so no gettext is needed at run time.
    let cfg = slint_build::CompilerConfiguration::new()
        .with_debug_info(true)
        .with_bundled_translations("ui/lang");
    if let Err(e) = slint_build::compile_with_config("ui/app.slint", cfg) {
        eprintln!("Slint compile error: {e}");
        std::process::exit(1);
    }
}
