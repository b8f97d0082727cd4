//! Generated Apache combined-format access logs for compression figures and tests: a fixed
//! pool of clients, pages, referers and user agents, drawn from a seeded generator, so the
//! output is repeatable and about as redundant as a real site's log (not a repeated line).
//! Each line carries its sequence number in the query string, so every line is distinct.

const METHODS: [&str; 4] = ["GET", "GET", "GET", "POST"];
const PAGES: [&str; 12] = [
    "/",
    "/index.html",
    "/products",
    "/products/view",
    "/cart",
    "/checkout",
    "/api/v1/items",
    "/api/v1/users/me",
    "/static/app.js",
    "/static/style.css",
    "/images/logo.png",
    "/search",
];
const STATUS: [u16; 10] = [200, 200, 200, 200, 200, 200, 304, 301, 404, 500];
const REFERERS: [&str; 6] = [
    "-",
    "https://www.example.com/",
    "https://www.example.com/products",
    "https://www.google.com/",
    "https://duckduckgo.com/",
    "https://shop.example.com/cart",
];
const AGENTS: [&str; 6] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "curl/8.5.0",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
];

/// `count` lines starting at sequence number `first`, each without its `\n`.
pub fn apache_lines(first: usize, count: usize) -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(first as u64);
    let clients: Vec<String> = (0..300)
        .map(|_| edgeship::generate::formats::ip(&mut rng))
        .collect();
    (first..first + count)
        .map(|n| {
            let second = n / 20;
            format!(
                "{} - - [01/Dec/2026:{:02}:{:02}:{:02} +0000] \"{} {}?id={}&seq={n} HTTP/1.1\" {} {} \"{}\" \"{}\"",
                clients[rng.usize(..clients.len())],
                second / 3600 % 24,
                second / 60 % 60,
                second % 60,
                METHODS[rng.usize(..METHODS.len())],
                PAGES[rng.usize(..PAGES.len())],
                rng.u32(1..100_000),
                STATUS[rng.usize(..STATUS.len())],
                rng.u32(100..60_000),
                REFERERS[rng.usize(..REFERERS.len())],
                AGENTS[rng.usize(..AGENTS.len())],
            )
        })
        .collect()
}
