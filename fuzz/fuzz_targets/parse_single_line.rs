#![no_main]
//! `single_line`: never panics; structured records are valid JSON

edgeship_fuzz::format_target!("format = \"single_line\"\nmultiline_start = '\\S'", false);
