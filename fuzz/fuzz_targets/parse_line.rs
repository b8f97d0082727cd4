#![no_main]
//! `line`: never panics; structured records are valid JSON

edgeship_fuzz::format_target!("format = \"line\"", false);
