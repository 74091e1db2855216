#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() {
    if let Err(error) = chatsphere::server::startup::serve().await {
        eprintln!("chatsphere: {error}");
        std::process::exit(1);
    }
}

#[cfg(not(feature = "ssr"))]
fn main() {}
