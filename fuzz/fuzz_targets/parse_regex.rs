#![no_main]
//! `regex`: never panics; structured records are valid JSON

edgeship_fuzz::format_target!("format = \"regex\"\npattern = '(?P<a>\\w+) (?P<b>.*)'", true);
