// pico_pkg.sv - shared Pico SoC constants: peripheral base addresses and IRQ numbers.
// Used by the SystemVerilog blocks and the testbenches; the Verilog-2005 RTL
// repeats the values it needs as localparams.
package pico_pkg;
  localparam logic [31:0] DMA_BASE    = 32'h4000_0000;
  localparam logic [31:0] UART0_BASE  = 32'h4000_1000;
  localparam logic [31:0] TIMER0_BASE = 32'h4000_2000;
  localparam logic [31:0] CRU_BASE    = 32'h4000_3000;

  localparam int IRQ_TIMER0 = 0;
  localparam int IRQ_UART0  = 1;
  localparam int IRQ_DMA    = 2;
  localparam int NUM_IRQ    = 4;
endpackage
