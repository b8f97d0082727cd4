#![no_main]
//! `multiline`: never panics; structured records are valid JSON

edgeship_fuzz::format_target!("multiline_continue = '\\s'\nmax_record_bytes = 100\ntruncated_record_terminator = \"...\"\nadd_file = true", true);
