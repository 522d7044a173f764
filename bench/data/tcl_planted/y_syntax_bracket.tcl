set files [list alu.v
foreach f $files { yosys read_verilog $f }
yosys synth -top alu
