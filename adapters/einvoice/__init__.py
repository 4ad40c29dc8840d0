"""EN 16931 e-invoices (Factur-X: a PDF/A-3 with the CII XML embedded) and PAdES signatures."""
