from fer.cli import main

raise SystemExit(main())
