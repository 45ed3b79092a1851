x = undefined_thing
