"""The individual table, pedigree kinship and genomes."""
