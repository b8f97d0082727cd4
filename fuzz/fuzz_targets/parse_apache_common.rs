#![no_main]
//! `apache_common`: never panics; structured records are valid JSON

edgeship_fuzz::format_target!("format = \"apache_common\"\ntypes = { response = \"int\", bytes = \"int\" }\ntimestamp_field = \"timestamp\"", true);
