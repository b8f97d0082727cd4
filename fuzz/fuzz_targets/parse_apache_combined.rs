#![no_main]
//! `apache_combined`: never panics; structured records are valid JSON

edgeship_fuzz::format_target!("format = \"apache_combined\"\ntypes = { response = \"int\", bytes = \"int\" }\ntimestamp_field = \"timestamp\"", true);
