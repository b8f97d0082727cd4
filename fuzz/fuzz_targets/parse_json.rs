#![no_main]
//! `json`: never panics; structured records are valid JSON

edgeship_fuzz::format_target!("format = \"json\"\nadd_offset = true", true);
