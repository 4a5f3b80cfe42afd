from lambda_complex.builder.cli import main

main()
