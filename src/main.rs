#[cfg(feature = "ssr")]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `chatsphere extract ...`: the child the ingestion workers run untrusted parsing in.
    if args.first().map(String::as_str) == Some("extract") {
        std::process::exit(chatsphere::features::knowledge::server::extract::sandbox::child_main(&args[1..]));
    }
    // `chatsphere precompress [folder]`: brotli and gzip copies of the front end, after a build.
    if args.first().map(String::as_str) == Some("precompress") {
        std::process::exit(chatsphere::server::assets::precompress_command(&args[1..]));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("the async runtime starts");
    // `chatsphere admin ...`: the operator's account commands.
    if args.first().map(String::as_str) == Some("admin") {
        std::process::exit(runtime.block_on(chatsphere::server::admin_cli::run(&args[1..])));
    }
    if let Err(error) = runtime.block_on(chatsphere::server::startup::serve()) {
        eprintln!("chatsphere: {error}");
        std::process::exit(1);
    }
}

#[cfg(not(feature = "ssr"))]
fn main() {}
