print("the corpus case names a script: validate checks that it exists")
