#![no_main]
//! `apache_error`: never panics; structured records are valid JSON

edgeship_fuzz::format_target!("format = \"apache_error\"\ntypes = { response = \"int\", bytes = \"int\" }\ntimestamp_field = \"timestamp\"", true);
