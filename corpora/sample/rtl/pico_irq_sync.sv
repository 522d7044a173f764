// pico_irq_sync.sv - synchronizes the peripheral interrupt lines into the CPU
// clock domain and masks them with a per-line enable. Peripheral clocks are gated
// copies of clk_ref, so two flops are enough; the mask lets firmware park a line
// while its block is held in reset by the CRU.
// (Package items are referenced as pico_pkg::NAME: yosys 0.23 does not accept an
// import in the module header.)
module pico_irq_sync (
  input  logic               clk,
  input  logic               rst_n,
  input  logic [pico_pkg::NUM_IRQ-1:0] irq_in,
  input  logic [pico_pkg::NUM_IRQ-1:0] irq_mask,   // 1 = line enabled
  output logic [pico_pkg::NUM_IRQ-1:0] irq_out
);
  logic [pico_pkg::NUM_IRQ-1:0] meta, sync;

  always_ff @(posedge clk or negedge rst_n) begin
    if (!rst_n) begin
      meta <= '0;
      sync <= '0;
    end else begin
      meta <= irq_in;
      sync <= meta;
    end
  end

  assign irq_out = sync & irq_mask;
endmodule
