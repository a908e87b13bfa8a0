from fraudctl.cli.main import main

main()
