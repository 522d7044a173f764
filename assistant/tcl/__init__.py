"""Tcl script generation for EDA tools (yosys, OpenROAD), checked by real tools.

- :mod:`assistant.tcl.words`: a Tcl command/word splitter with line numbers.
- :mod:`assistant.tcl.syntax`: level 1, syntax (splitter + tclsh `info complete`).
- :mod:`assistant.tcl.commands`, :mod:`~.yosys_db`, :mod:`~.openroad_db`: command databases.
- :mod:`assistant.tcl.lint`: level 2, commands and options.
- :mod:`assistant.tcl.run`: level 3, a sandboxed run of the real tool.
- :mod:`assistant.tcl.check`: the three levels together (`check_script`).
- :mod:`assistant.tcl.cookbook`, :mod:`~.options`, :mod:`~.design`: worked examples, option hints from the
  tool's help, and what the design holds (files, modules, tops).
- :mod:`assistant.tcl.prompt`: the generation prompt, fitted to the model's token budget.
- :mod:`assistant.tcl.fixits`: deterministic fixes before any model round.
- :mod:`assistant.tcl.generate`: retrieval + LLM + check + repair rounds (`generate_script`).
"""
