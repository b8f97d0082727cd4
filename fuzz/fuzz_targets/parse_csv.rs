#![no_main]
//! `csv`: never panics; structured records are valid JSON

edgeship_fuzz::format_target!("format = \"csv\"\ncsv_header = true", true);
